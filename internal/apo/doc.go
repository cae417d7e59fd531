// Package apo is a client for Antom's APO payment gateway. It speaks APO's
// wire types, signs every request and verifies every response and
// notification; it knows nothing about our database or domain.
//
// Every Client method returns (Response, error):
//
//   - nil error: APO answered result S.
//   - *Error with OutcomeFailed: APO answered F; final for that request id.
//   - *Error with OutcomeUnknown: APO answered U, or no verifiable answer
//     arrived (timeout, connection error, non-200, missing or bad signature,
//     undecodable body). Find out by inquiry, or repeat with the same id.
//
// The response is filled whenever a verified reply was decoded, whatever the
// result, so a pay answered U PAYMENT_IN_PROCESS returns both an unknown
// *Error and a response whose NormalURL sends the buyer to 3DS. For the
// inquiry calls the result only says whether the inquiry worked; the
// payment's or refund's state is in the response's status field.
//
// The client never retries. Card numbers and CVVs never appear in errors,
// fmt output or slog output; RedactedJSON and PayRequest.Redacted give
// copies that are safe to store.
package apo
