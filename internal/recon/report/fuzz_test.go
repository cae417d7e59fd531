package report

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/payops/payops/internal/money"
)

// FuzzCSV feeds arbitrary bytes to the CSV reader of every kind. Whatever
// the input, the reader must not panic or loop, every bad record must name
// the file and a line, lines must come in order, amounts must be exact, and
// a file is only complete if it really holds the trailer. The committed seed
// corpus is in testdata/fuzz/FuzzCSV.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,c1,1.00,USD\n<END>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []Kind{TransactionItems, SettlementItems, SettlementSummary} {
			r, err := NewCSV("fuzz.csv", Name{Kind: k, BatchID: "B"}, bytes.NewReader(data), Limits{})
			if err != nil {
				if !errors.Is(err, ErrHeader) && !errors.Is(err, ErrIncomplete) {
					var le *LineError
					if !errors.As(err, &le) {
						t.Fatalf("header error of an unexpected class: %v", err)
					}
				}
				continue
			}
			prev := 0
			for n := 0; ; n++ {
				if n > len(data)+2 {
					t.Fatalf("more records than input lines")
				}
				l, err := r.Next()
				var le *LineError
				switch {
				case err == nil:
					if l.No <= prev {
						t.Fatalf("line %d after line %d", l.No, prev)
					}
					prev = l.No
					for _, a := range []Amount{l.TransactionAmount, l.SettlementAmount, l.FeeAmount} {
						if !a.Valid {
							continue
						}
						back, perr := money.ParseMajor(money.FormatMajor(a.Money), a.Currency, true)
						if perr != nil || back != a.Money {
							t.Fatalf("amount %v does not round-trip: %v %v", a.Money, back, perr)
						}
						if err := money.CheckCeiling(a.Money); err != nil {
							t.Fatalf("accepted %v: %v", a.Money, err)
						}
					}
					continue
				case errors.As(err, &le):
					if le.File != "fuzz.csv" || le.Line < 1 {
						t.Fatalf("line error without a place: %+v", le)
					}
					if le.Line > prev {
						prev = le.Line
					}
					continue
				case errors.Is(err, io.EOF):
					if !strings.Contains(string(data), endMarker) {
						t.Fatalf("complete without a trailer")
					}
				case errors.Is(err, ErrIncomplete):
				default:
					t.Fatalf("unexpected error class: %v", err)
				}
				break
			}
		}
	})
}
