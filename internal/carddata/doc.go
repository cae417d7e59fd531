// Package carddata owns payops' rules for card data: the Luhn check, the
// masking of card numbers, and the one redaction policy every stored,
// logged, queued, displayed or exported text and document goes through. The
// PCI rule behind it: a card number (PAN) and a card security code never
// reach the database, a log, an error, a queue payload, a page or an export,
// and a card token is a credential, kept out of all of them too. PCI DSS
// allows at most the first six and the last four digits of a card number to
// be shown; nothing here shows more.
//
// The policy, for every caller (logging's slog handler, the APO client's
// call records, stored webhook bodies and payloads, audit inputs, report
// lines, error texts):
//
//	what                                           treatment
//	---------------------------------------------  -----------------------------------------------
//	a value known to be a card number (a typed     Mask: first six and last four kept, the rest
//	card field: payments.CardInput.Number,         '*' ("411111******1111"); shorter than MinLen:
//	apo.CardMetaData.CardNo)                       all '*'
//	a field named as a card number (cardNo,        Redacted ("[REDACTED]"), whatever it holds (a
//	cardNumber, card_number, pan, …) in a          typo is still a card number); kept only when it
//	document or log record                         already is a masked display (IsMasked), such as
//	                                               APO's own masked cardNo
//	the same key in free text ("cardNo=…",         Redacted: text has no reliable end of value
//	"Card Number: …")
//	a card security code field (cvv, cvv2, cvc,    Redacted, whatever it holds
//	csc, securityCode, cardPasswordDigest, …)
//	a card token field (cardToken,                 Redacted, whatever it holds: whoever holds a
//	acquirerCardToken, paymentMethodId)            token can pay with the card
//	a base64 document (disputeEvidence)            "[N base64 characters omitted]": it cannot be
//	                                               scanned for card numbers, and it is large
//	free text anywhere (every other string, keys,  MaskText: each Luhn-valid run of 12 to 19
//	log messages, error texts, report values)      digits, also typed in groups, keeps its first
//	                                               six and last four digits; UUIDs are ids
//	an integer that is a card number               masked as free text, and so becomes a string
//	JSON inside a string                           redacted as a document, recursively
//	masked displays (maskedCardNo, cardBin,        kept
//	lastFour, …)
//
// Functions: Luhn, Mask, IsMasked and MaskText work on card numbers;
// IsSensitiveKey tells the fields whose values are withheld; Field applies
// the policy to one named value; Redact to free text; RedactJSON to a JSON
// document.
//
// It depends on the standard library only, so every package may use it,
// the APO client included.
package carddata
