package payout

import "testing"

// Payouts settled Monday 7 December 2026 are due Tuesday 8 (T+1); every
// kind of reference match arrives in Tuesday's statement.
func TestPayoutReferenceMatching(t *testing.T) {
	e := newTestEnv(t)
	got, counts := e.check(t, "2026-12-07", map[string]int64{"B1": 100000, "B2": 50000, "B3": 30000, "B4": 20000,
		"B5": 70000, "B6": 40000, "B7": 40000})
	same(t, "breaks before the due date", got, []string{})
	same(t, "expected", counts.Expected, 7)

	apo := "APO Payments Europe B.V."
	e.statement(t, "2026-12-08",
		credit{100000, "B1", "Settlement", apo},             // 1:1 by end-to-end id
		credit{80000, "", "Payout B2, B3", apo},             // 1:N
		credit{10000, "", "B4 part 1", apo},                 // N:1
		credit{10000, "", "B4 part 2", apo},                 // N:1
		credit{100000, "", "Settlement B1 resent", apo},     // duplicate
		credit{69600, "", "Payout b5", apo},                 // short by 400 ≤ 500: a fee
		credit{39000, "", "Payout B6", apo},                 // short by 1000 > 500 …
		credit{39000, "", "Payout B7", apo},                 // short by 1000 > 500: a mismatch
		credit{12345, "", "Adjustment B12345", apo},         // names no batch ("B1" is not a token of it)
		credit{5000, "", "Invoice 42 B1X", "ACME GmbH"},     // someone else's
		credit{40000, "", "Payout B6 remainder", "Someone"}, // … then B6 named again: paid over
	)
	got, counts = e.check(t, "2026-12-08", nil)
	same(t, "breaks on the due date", got, []string{
		"BANK_CREDIT_UNEXPLAINED|stmt-1.sta:12345",
		"PAYOUT_AMOUNT_MISMATCH|B6",
		"PAYOUT_AMOUNT_MISMATCH|B7",
		"PAYOUT_DUPLICATED|stmt-1.sta:100000",
	})
	same(t, "statuses", e.statuses(t), map[string]string{
		"B1": "RECEIVED 100000 fee 0",
		"B2": "RECEIVED 50000 fee 0",
		"B3": "RECEIVED 30000 fee 0",
		"B4": "RECEIVED 20000 fee 0",
		"B5": "RECEIVED_WITH_FEE 69600 fee 400",
		"B6": "AMOUNT_MISMATCH 79000 fee 0",
		"B7": "AMOUNT_MISMATCH 39000 fee 0",
	})
	same(t, "judged: seven payouts, nine linked credits, one from APO", counts.Judged, 7+9+1)
}

// Credits that name no batch are matched by amount only when the match is
// unique both ways; a payout is late, not received or awaiting its
// statement as of its due date's run.
func TestPayoutAmountMatchingAndJudging(t *testing.T) {
	e := newTestEnv(t)
	apo := "APO Payments Europe"
	e.check(t, "2026-12-07", map[string]int64{"A1": 123456, "A2": 60000, "A3": 60000}) // due Tue 8
	e.statement(t, "2026-12-08",
		credit{123000, "", "SEPA credit", apo}, // A1 by amount, short 456 ≤ 500: a fee
		credit{60000, "", "SEPA credit", apo},  // A2 or A3: ambiguous, not matched
	)
	got, _ := e.check(t, "2026-12-08", map[string]int64{"G1": 30000, "G2": 20000}) // due Wed 9
	same(t, "Tuesday", got, []string{
		"BANK_CREDIT_UNEXPLAINED|stmt-1.sta:60000",
		"PAYOUT_NOT_RECEIVED|A2",
		"PAYOUT_NOT_RECEIVED|A3",
	})
	e.statement(t, "2026-12-09", credit{50000, "", "SEPA credit", apo})           // G1 + G2 in one transfer
	got, _ = e.check(t, "2026-12-09", map[string]int64{"L1": 10000, "W1": 20000}) // due Thu 10
	same(t, "Wednesday", got, []string{})

	// Thursday's run sees statements only up to Wednesday: awaiting.
	got, counts := e.check(t, "2026-12-10", nil)
	same(t, "Thursday before its statement", got, []string{})
	same(t, "awaiting", counts.AwaitingStatement, 2)
	e.statement(t, "2026-12-10", credit{20000, "W1", "", apo})
	got, _ = e.check(t, "2026-12-10", nil)
	same(t, "Thursday with its statement", got, []string{"PAYOUT_NOT_RECEIVED|L1"})
	e.statement(t, "2026-12-11", credit{10000, "", "Late payout L1", apo})
	got, _ = e.check(t, "2026-12-10", nil)
	same(t, "Thursday re-run after the late credit", got, []string{})
	got, _ = e.check(t, "2026-12-11", nil)
	same(t, "Friday", got, []string{"PAYOUT_LATE|stmt-4.sta:10000"})

	same(t, "statuses", e.statuses(t), map[string]string{
		"A1": "RECEIVED_WITH_FEE 123000 fee 456",
		"A2": "NOT_RECEIVED 0 fee 0",
		"A3": "NOT_RECEIVED 0 fee 0",
		"G1": "RECEIVED 30000 fee 0",
		"G2": "RECEIVED 20000 fee 0",
		"L1": "RECEIVED_LATE 10000 fee 0",
		"W1": "RECEIVED 20000 fee 0",
	})
}

// A credit booked after the run's period waits for the run of its booking
// date to be matched by amount: before then, the batch it names may not be
// registered yet (statements ingested ahead of a backfill of reports), and
// a sticky amount match would give it to another batch.
func TestPayoutAmountMatchWaitsForBookingDate(t *testing.T) {
	e := newTestEnv(t)
	apo := "APO Payments Europe"
	e.statement(t, "2026-12-10", credit{19800, "", "Payout Y9", apo}) // names Y9, within tolerance of X1
	got, _ := e.check(t, "2026-12-07", map[string]int64{"X1": 20000}) // due Tue 8
	same(t, "Monday", got, []string{})
	e.check(t, "2026-12-09", map[string]int64{"Y9": 19800}) // due Thu 10
	got, _ = e.check(t, "2026-12-08", nil)
	same(t, "Tuesday", got, []string{"PAYOUT_NOT_RECEIVED|X1"})
	same(t, "statuses", e.statuses(t), map[string]string{
		"X1": "NOT_RECEIVED 0 fee 0",
		"Y9": "RECEIVED 19800 fee 0",
	})
}
