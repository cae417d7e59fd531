package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/payops/payops/internal/httpx"
)

// upload is a multipart upload of several files that a domain service
// ingests one by one: APO's reports (recon_actions.go), bank statements
// (bank_actions.go).
type upload struct {
	timeout time.Duration // for the whole body: the server sets no read timeout
	spool   httpx.Spool   // the API's limits
	action  string        // audit action
	target  func(ids []string) string
	// ingest ingests the spooled files, filling in the audit record and
	// the ids of what it stored; a refused file is an *uploadRejected.
	ingest func(ctx context.Context, files []httpx.SpooledFile, rec *reconUploadAudit, ids *[]string) (string, string, error)
}

// upload spools the form's files and ingests them as one audited action,
// as the API's upload does. The form's token rides in its URL: Spool keeps
// file parts only.
func (c *Console) upload(w http.ResponseWriter, r *http.Request, s *session, u upload) error {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(u.timeout))
	files, err := u.spool.Read(r.Header.Get("Content-Type"), r.Body)
	defer httpx.RemoveSpooled(files)
	rec := reconUploadAudit{Files: make([]reconUploadAuditFile, len(files))}
	for i, f := range files {
		rec.Files[i] = reconUploadAuditFile{Name: f.Name, Size: f.Size}
	}
	if err != nil {
		// Refused before anything was kept; the API audits this too.
		c.record(r.Context(), s, action{Name: u.action, Target: u.target(nil), Input: rec}, outcome(err))
		return err
	}
	key, err := reconUploadKey(files)
	if err != nil {
		return err
	}
	r.PostForm = url.Values{"token": {r.URL.Query().Get("token")}}
	var ids []string
	err = c.act(w, r, s, action{Name: u.action, Target: u.target(nil), Input: key,
		Run:     func(ctx context.Context) (string, string, error) { return u.ingest(ctx, files, &rec, &ids) },
		Audited: func(error) (string, any) { return u.target(ids), rec },
	})
	var rej *uploadRejected
	if errors.As(err, &rej) {
		c.writeProblem(w, r, s, rej.problem())
		return nil
	}
	return err
}

// uploadRejected is an upload with refused files: each problem is a domain
// InvalidError whose field is "<file>:<line>" (or the file), so the page
// lists them and the audit row says rejected. Good files of the same upload
// were ingested.
type uploadRejected struct {
	title, detail string
	Bad, Good     []string
	Problems      []error
}

func (e *uploadRejected) Error() string {
	return strings.ToLower(e.title[:1]) + e.title[1:] + ": " + strings.Join(e.Bad, ", ")
}
func (e *uploadRejected) Unwrap() []error { return e.Problems }

func (e *uploadRejected) problem() problem {
	p := problem{Status: http.StatusUnprocessableEntity, Title: e.title + ": " + strings.Join(e.Bad, ", "), Detail: e.detail}
	if len(e.Good) > 0 {
		p.Detail += " Ingested: " + strings.Join(e.Good, ", ") + " (uploading them again is harmless)."
	}
	p.Fields = invalidFields(errors.Join(e.Problems...))
	return p
}
