package sandbox

import (
	"slices"
	"strings"
	"testing"
)

// TestReportFaultsParseBackToTruth writes a day's files clean, then with
// every kind of fault, parses both back with the test reader and proves
// that the damaged files are the clean ones plus exactly the reported
// faults: undoing each reported fault gives the clean files back, line
// for line, and every reported line holds what the report says.
func TestReportFaultsParseBackToTruth(t *testing.T) {
	rounds := []struct {
		name       string
		format     string
		generation string
		faults     ReportFaults
	}{
		{"items", "csv", "", ReportFaults{
			DropLines:           FaultCount{Count: 2, Report: KindSettlementItems},
			ChangeAmounts:       FaultCount{Count: 2},
			DuplicateLines:      FaultCount{Count: 1, Report: KindSettlementItems},
			UnknownTransactions: FaultCount{Count: 2},
			ChangeCurrency:      FaultCount{Count: 1, Report: KindSettlementItems},
			BreakSummaryTotal:   2,
			OmitTrailer:         []string{KindTransactionItems, KindSettlementSummary},
		}},
		{"the other way round", "csv", "", ReportFaults{
			Seed:                77,
			DropLines:           FaultCount{Count: 3},
			ChangeAmounts:       FaultCount{Count: 2, Report: KindSettlementItems},
			DuplicateLines:      FaultCount{Count: 2},
			UnknownTransactions: FaultCount{Count: 1, Report: KindSettlementItems},
			ChangeCurrency:      FaultCount{Count: 2},
			OmitTrailer:         []string{KindSettlementItems},
		}},
		{"xlsx", "xlsx", "", ReportFaults{
			DropLines:           FaultCount{Count: 1},
			ChangeAmounts:       FaultCount{Count: 1, Report: KindSettlementItems},
			DuplicateLines:      FaultCount{Count: 1},
			UnknownTransactions: FaultCount{Count: 1, Report: KindSettlementItems},
			ChangeCurrency:      FaultCount{Count: 1},
			BreakSummaryTotal:   1,
			OmitTrailer:         []string{KindTransactionItems},
		}},
		{"newest generation", "csv", GenerationNewest, ReportFaults{
			Seed:                5,
			DropLines:           FaultCount{Count: 1, Report: KindSettlementItems},
			ChangeAmounts:       FaultCount{Count: 2},
			DuplicateLines:      FaultCount{Count: 1},
			UnknownTransactions: FaultCount{Count: 1, Report: KindSettlementItems},
			ChangeCurrency:      FaultCount{Count: 1, Report: KindSettlementItems},
			BreakSummaryTotal:   2,
			OmitTrailer:         []string{KindSettlementSummary},
		}},
	}
	e := reportEnv(t, func(c *Config) { c.SettlementCurrency = "USD" })
	ids := reportDay(t, e)
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}
	for _, round := range rounds {
		t.Run(round.name, func(t *testing.T) {
			cleanRes, err := e.srv.WriteReports(ReportRequest{Date: "20261123", Format: round.format, Generation: round.generation})
			if err != nil {
				t.Fatal(err)
			}
			clean := readAll(t, cleanRes)
			dirtyRes, err := e.srv.WriteReports(ReportRequest{Date: "20261123", Format: round.format, Generation: round.generation, Faults: &round.faults})
			if err != nil {
				t.Fatal(err)
			}
			dirty := readAll(t, dirtyRes)
			wantCounts := map[string]int{
				FaultDropLine: round.faults.DropLines.Count, FaultChangeAmount: round.faults.ChangeAmounts.Count,
				FaultDuplicateLine: round.faults.DuplicateLines.Count, FaultUnknownTransaction: round.faults.UnknownTransactions.Count,
				FaultChangeCurrency: round.faults.ChangeCurrency.Count, FaultBreakSummaryTotal: round.faults.BreakSummaryTotal,
				FaultOmitTrailer: len(round.faults.OmitTrailer),
			}
			gotCounts := map[string]int{}
			for _, f := range dirtyRes.Faults {
				gotCounts[f.Kind]++
			}
			for k, n := range wantCounts {
				if gotCounts[k] != n {
					t.Errorf("%d %s faults injected, asked for %d", gotCounts[k], k, n)
				}
			}
			for name, c := range clean {
				d, ok := dirty[name]
				if !ok {
					t.Fatalf("%s missing from the damaged run", name)
				}
				var fs []InjectedFault
				for _, f := range dirtyRes.Faults {
					if f.File == name {
						fs = append(fs, f)
					}
				}
				undo(t, c, d, fs, known)
			}
			// The files list tells the truth about trailers too.
			for _, f := range dirtyRes.Files {
				if f.Trailer != dirty[f.Name].trailer {
					t.Errorf("%s: result says trailer %v, file says %v", f.Name, f.Trailer, dirty[f.Name].trailer)
				}
				if f.Records != len(dirty[f.Name].rows) {
					t.Errorf("%s: result says %d records, file has %d", f.Name, f.Records, len(dirty[f.Name].rows))
				}
			}
		})
	}
}

// undo checks each fault against the damaged file d, reverses it, and
// requires the result to equal the clean file c.
func undo(t *testing.T, c, d sheet, faults []InjectedFault, known map[string]bool) {
	t.Helper()
	if !slices.Equal(c.header, d.header) {
		t.Fatalf("%s: header changed", d.name)
	}
	rowAt := map[int]int{} // line → index in d.rows
	for i, r := range d.rows {
		rowAt[r.line] = i
	}
	remove := map[int]bool{}
	fixed := make([][]string, len(d.rows))
	for i, r := range d.rows {
		fixed[i] = slices.Clone(r.raw)
	}
	dropped := map[string]bool{}
	omitted := false
	summary := strings.HasPrefix(d.name, "settlementSummary")
	for _, f := range faults {
		if f.Kind == FaultOmitTrailer {
			omitted = true
			continue
		}
		if f.Kind == FaultDropLine {
			dropped[f.TransactionType+"/"+f.TransactionID] = true
			if f.Line < 2 || f.Line > len(d.rows)+2 {
				t.Errorf("%s: drop reported at line %d", d.name, f.Line)
			}
			continue
		}
		i, ok := rowAt[f.Line]
		if !ok {
			t.Errorf("%s: fault %+v names line %d, which has no record", d.name, f, f.Line)
			continue
		}
		r := d.rows[i]
		if !summary && (r.get("transactionId") != f.TransactionID || r.get("transactionType") != f.TransactionType ||
			r.get("transactionRequestId") != f.TransactionRequestID) {
			t.Errorf("%s line %d is %s, the fault says %s/%s", d.name, f.Line, r.key(), f.TransactionType, f.TransactionID)
		}
		switch f.Kind {
		case FaultChangeAmount, FaultChangeCurrency, FaultBreakSummaryTotal:
			if r.get(f.Column) != f.New || f.Old == f.New {
				t.Errorf("%s line %d: %s is %q, the fault says %q (was %q)", d.name, f.Line, f.Column, r.get(f.Column), f.New, f.Old)
			}
			if summary && r.get("summaryType") != f.TransactionType {
				t.Errorf("%s line %d is the %s row, the fault says %s", d.name, f.Line, r.get("summaryType"), f.TransactionType)
			}
			fixed[i][slices.Index(d.header, f.Column)] = f.Old
		case FaultDuplicateLine:
			if i == 0 || !slices.Equal(d.rows[i-1].raw, r.raw) {
				t.Errorf("%s line %d is not a copy of the line before", d.name, f.Line)
			}
			remove[i] = true
		case FaultUnknownTransaction:
			if known[f.TransactionID] || known[r.get("originalTransactionId")] {
				t.Errorf("%s line %d: an unknown transaction with a known id", d.name, f.Line)
			}
			remove[i] = true
		default:
			t.Errorf("unexpected fault %+v", f)
		}
	}
	var got [][]string
	for i, rec := range fixed {
		if !remove[i] {
			got = append(got, rec)
		}
	}
	var want [][]string
	for _, r := range c.rows {
		if dropped[r.key()] {
			delete(dropped, r.key())
			continue
		}
		want = append(want, r.raw)
	}
	if len(dropped) != 0 {
		t.Errorf("%s: dropped lines that the clean file does not have: %v", d.name, dropped)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines after undoing the faults, the clean file has %d", d.name, len(got), len(want))
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("%s: unreported difference:\n got %v\nwant %v", d.name, got[i], want[i])
		}
	}
	if d.trailer == omitted || !c.trailer {
		t.Errorf("%s: trailer %v, omitted by a fault %v", d.name, d.trailer, omitted)
	}
}
