// Package sandbox is a simulated APO (Antom) gateway: the same paths, headers,
// RSA signatures in both directions, JSON fields, result codes and
// idempotency rules as apo-reference.md describes, with in-memory state so
// that authorizations, captures, cancels, refunds and disputes behave like the
// real thing. It owns nothing but that state.
//
// Around the gateway it plays the other parties APO talks to:
//
//   - the issuer's 3DS page (GET/POST /sandbox/3ds/{paymentId}), whose
//     challenge expires at paymentExpiryTime;
//   - signed notifications (PAYMENT_RESULT, CAPTURE_RESULT, REFUND_RESULT,
//     dispute notifications) sent by a bounded worker pool and resent on
//     APO's schedule until acknowledged (notify.go);
//   - the card schemes' disputes (POST /sandbox/disputes, .../judge,
//     .../cancel, the defence due alert);
//   - the settlement reports APO drops by SFTP (POST /sandbox/reports and a
//     daily tick; reports.go states the format choices the reference
//     leaves open);
//   - the merchant's bank, crediting each batch's payout into a statement
//     (POST /sandbox/bank-statements: camt.053 or MT940, with payouts
//     withheld, short, late or combined, unrelated credits and broken
//     balance chains on request; bank.go);
//   - and a misbehaving network (POST /sandbox/faults): latency, 5xx, hangs,
//     resets and U answers per API, applied before or after the state
//     change, unsigned gateway rejections, and dropped, duplicated,
//     reordered or delayed notifications.
//
// Its wire structs are its own reading of the reference, deliberately not
// shared with the client in package apo, so that a client mistake shows up as
// a failed exchange instead of being mirrored.
//
// Card data: the full card number and the CVV only live in the request being
// handled. State, notifications, reports and pages keep masked facts (BIN,
// last four, brand, expiry) and a keyed, per-process fingerprint used to
// recognise the same card again.
package sandbox
