package recon

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestFilesReadsUploadsBack: Files returns each named file with its
// outcome, in id order, leaving out ids that name nothing.
func TestFilesReadsUploadsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, _ := newTestService(t)
	good := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,c1,1.00,USD\n<END>\n"
	ok, err := svc.Ingest(ctx, "transactionItems_20240307_000.csv", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	held, err := svc.Ingest(ctx, "transactionItems_20240308_000.csv", strings.NewReader(strings.TrimSuffix(good, "<END>\n")))
	if err != nil || held.Status != FileIncomplete {
		t.Fatalf("incomplete: %+v %v", held, err)
	}
	bad := strings.Replace(good, "1.00", "x", 1)
	failed, err := svc.Ingest(ctx, "transactionItems_20240309_000.csv", strings.NewReader(bad))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("bad file: %v", err)
	}

	files, err := svc.Files(ctx, []int64{failed.ID, 999999, ok.ID, held.ID, ok.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || files[0].ID != ok.ID || files[1].ID != held.ID || files[2].ID != failed.ID {
		t.Fatalf("files %+v, want %d, %d, %d in id order", files, ok.ID, held.ID, failed.ID)
	}
	if files[0].Status != FileIngested || files[0].Lines != 1 || files[1].Status != FileIncomplete ||
		files[2].Status != FileFailed || !strings.Contains(files[2].Error, "transactionItems_20240309_000.csv:2") {
		t.Fatalf("outcomes %+v", files)
	}
	if files, err := svc.Files(ctx, nil); err != nil || len(files) != 0 {
		t.Fatalf("no ids: %v %v", files, err)
	}
	var inv *InvalidError
	if _, err := svc.Files(ctx, make([]int64, MaxFilesRead+1)); !errors.As(err, &inv) {
		t.Fatalf("too many ids: %v", err)
	}
}
