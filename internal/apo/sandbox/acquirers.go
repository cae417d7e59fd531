package sandbox

import (
	"math/rand/v2"
	"strings"
)

// acquirerProfile is one acquirer APO routes to. Each speaks its own
// result-code dialect and id format, so acquirerInfo looks like what each
// would really send back through APO (§3.3).
type acquirerProfile struct {
	Name         string
	MerchantID   string
	MerchantName string
	// codes maps an APO result code (or an operation name for successes)
	// to the acquirer's own code and message.
	codes map[string][2]string
	// newTxnID makes an acquirer-side transaction id.
	newTxnID func(r *rand.Rand) string
}

// acquirers are the acquirers the sandbox routes cards to.
var acquirers = []acquirerProfile{
	{
		Name: "ADYEN", MerchantID: "PayOpsECOM", MerchantName: "PayOps Sandbox Adyen",
		codes: map[string][2]string{
			opAuthorize:               {"Authorised", "Authorised"},
			opChallenge:               {"ChallengeShopper", "3DS challenge required"},
			opPending:                 {"Pending", "Pending"},
			opCapture:                 {"[capture-received]", "Capture received"},
			opRefund:                  {"[refund-received]", "Refund received"},
			opCancel:                  {"[cancel-received]", "Cancel received"},
			"DO_NOT_HONOR":            {"Refused", "Refused"},
			"USER_BALANCE_NOT_ENOUGH": {"Refused", "Not enough balance"},
		},
		newTxnID: func(r *rand.Rand) string { return randString(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16) },
	},
	{
		Name: "CHECKOUT", MerchantID: "ack_payops_sbx", MerchantName: "PayOps Sandbox Checkout",
		codes: map[string][2]string{
			opAuthorize:               {"10000", "Approved"},
			opChallenge:               {"Pending", "Authentication required"},
			opPending:                 {"Pending", "Pending"},
			opCapture:                 {"10000", "Approved"},
			opRefund:                  {"10000", "Approved"},
			opCancel:                  {"10000", "Approved"},
			"DO_NOT_HONOR":            {"20005", "Declined - Do Not Honour"},
			"USER_BALANCE_NOT_ENOUGH": {"20051", "Insufficient Funds"},
		},
		newTxnID: func(r *rand.Rand) string { return "pay_" + randString(r, "abcdefghijklmnopqrstuvwxyz0123456789", 26) },
	},
	{
		Name: "ALIPAY", MerchantID: "2188120000000001", MerchantName: "PayOps Sandbox Antom",
		codes: map[string][2]string{
			opAuthorize:               {"SUCCESS", "Success"},
			opChallenge:               {"PAYMENT_IN_PROCESS", "Payment in process"},
			opPending:                 {"PAYMENT_IN_PROCESS", "Payment in process"},
			opCapture:                 {"SUCCESS", "Success"},
			opRefund:                  {"SUCCESS", "Success"},
			opCancel:                  {"SUCCESS", "Success"},
			"DO_NOT_HONOR":            {"DO_NOT_HONOR", "Do not honor"},
			"USER_BALANCE_NOT_ENOUGH": {"USER_BALANCE_NOT_ENOUGH", "Insufficient balance"},
		},
		newTxnID: func(r *rand.Rand) string { return "2026" + randString(r, "0123456789", 24) },
	},
}

// Operation keys of acquirerProfile.codes for the non-error outcomes.
const (
	opAuthorize = "authorize"
	opChallenge = "challenge"
	opPending   = "pending"
	opCapture   = "capture"
	opRefund    = "refund"
	opCancel    = "cancel"
)

// acquirerByName finds a profile by name; routing only ever stores names
// that exist, so the fallback is never hit in practice.
func acquirerByName(name string) acquirerProfile {
	for _, a := range acquirers {
		if a.Name == name {
			return a
		}
	}
	return acquirers[0]
}

// info builds the acquirerInfo of one exchange with the acquirer. refID is
// the id APO sent the acquirer for it; outcome is an op* constant or an APO
// result code.
func (a acquirerProfile) info(r *rand.Rand, refID, outcome string) acquirerInfo {
	code := a.codes[outcome]
	return acquirerInfo{
		AcquirerName:          a.Name,
		ReferenceRequestID:    refID,
		AcquirerTransactionID: a.newTxnID(r),
		AcquirerMerchantID:    a.MerchantID,
		AcquirerMerchantName:  a.MerchantName,
		AcquirerResultCode:    code[0],
		AcquirerResultMessage: code[1],
	}
}

// notSent is the acquirerInfo of a payment APO refused before routing it
// (bad card number, expired card): the acquirer is known, no exchange took
// place, so there is no acquirer transaction id or result code.
func (a acquirerProfile) notSent(refID string) acquirerInfo {
	return acquirerInfo{
		AcquirerName:       a.Name,
		ReferenceRequestID: refID,
		AcquirerMerchantID: a.MerchantID,
	}
}

func randString(r *rand.Rand, alphabet string, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}
