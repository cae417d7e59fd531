package recon

import "context"

// MaxFilesRead bounds the ids Files reads at once.
const MaxFilesRead = 1000

// Files returns the report files named by ids, in id order; an id that
// names no file is left out. A page that has just uploaded files reads
// them back this way to show each one's outcome (INGESTED, INCOMPLETE,
// FAILED). At most MaxFilesRead ids.
func (s *Service) Files(ctx context.Context, ids []int64) ([]File, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxFilesRead {
		return nil, &InvalidError{Field: "ids", Reason: "too many file ids"}
	}
	return NewStore(s.db).FilesByID(ctx, uniq(ids))
}
