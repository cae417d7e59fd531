package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
)

// Defending a dispute is two posts, like every change that cannot be
// undone. The first uploads the evidence files (multipart, bounded like the
// API's defence upload), spools them to Deps.UploadDir, makes the one
// document APO takes out of them (disputes.Bundle) and keeps it there,
// then shows the files and the document for confirmation. The second
// carries that upload's id and a form token and sends the document
// through disputes.Service.Defend in c.act. The document is deleted once
// sent; what the upload held (names, sizes) stays until defenceUploadTTL
// so that a resubmitted confirmation is answered with the first outcome.

// maxDefenceUpload bounds the whole upload as the API's maxDefenseBody
// does: the document APO takes at most, plus room for the multipart
// framing. Several files share it: together they become one document.
const maxDefenceUpload = disputes.MaxEvidenceBytes + 64<<10

// defenceUploadTTL is how long a confirmation stays valid, and how long a
// kept upload's record outlives it.
const defenceUploadTTL = time.Hour

// defenceFile is one uploaded file as the confirmation and the audit row
// show it.
type defenceFile struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// defenceUpload is a checked upload waiting for its confirmation, kept as
// JSON in the upload directory.
type defenceUpload struct {
	UserID      string        `json:"user_id"`
	DisputeID   string        `json:"dispute_id"`
	Files       []defenceFile `json:"files"`
	ContentType string        `json:"content_type"`
	Size        int           `json:"size"`
	SHA256      string        `json:"sha256"`
	Doc         []byte        `json:"doc,omitempty"` // dropped once sent
	Created     time.Time     `json:"created"`
}

// defenceConfirm is the defence confirmation panel.
type defenceConfirm struct {
	DisputeID   string
	Upload      string
	Files       []defenceFile
	ContentType string
	Size        int
	Bundled     bool
	Token       string
}

// defenceInput is what the audit row keeps: the API's defenseAuditInput
// (the document's name, type and size; never its bytes) and, when several
// files were bundled, each file's name and size.
type defenceInput struct {
	Filename    string        `json:"filename,omitempty"`
	ContentType string        `json:"content_type,omitempty"`
	Size        int           `json:"size"`
	Files       []defenceFile `json:"files,omitempty"`
}

func (u defenceUpload) auditInput() defenceInput {
	in := defenceInput{ContentType: u.ContentType, Size: u.Size}
	if len(u.Files) == 1 {
		in.Filename = u.Files[0].Name
	} else {
		in.Filename = "dispute-" + safeFileID(u.DisputeID) + "-defence.pdf"
		in.Files = u.Files
	}
	return in
}

func (c *Console) uploadDir() string {
	if c.d.UploadDir != "" {
		return c.d.UploadDir
	}
	return os.TempDir()
}

// uploadPrefix names the console's kept defence uploads in the upload
// directory, which other uploads share.
const uploadPrefix = "console-defence-"

// uploadPath is where the upload named id is kept; ok is false for a name
// that rand.Text did not make (nothing from a form reaches a path
// unchecked).
func (c *Console) uploadPath(id string) (string, bool) {
	if len(id) != 26 || strings.IndexFunc(id, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') }) >= 0 {
		return "", false
	}
	return filepath.Join(c.uploadDir(), uploadPrefix+id+".json"), true
}

// sweepUploads removes kept uploads older than defenceUploadTTL: the
// confirmations nobody sent.
func (c *Console) sweepUploads(now time.Time) {
	matches, _ := filepath.Glob(filepath.Join(c.uploadDir(), uploadPrefix+"*.json"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && now.Sub(fi.ModTime()) > defenceUploadTTL {
			_ = os.Remove(m)
		}
	}
}

// errUploadGone is a confirmation whose upload is not kept (any more).
var errUploadGone = &formError{Field: "upload", Message: "this upload is gone (confirmations last an hour, on the server " +
	"that took the files); choose the files again"}

func (c *Console) loadUpload(id string, s *session, disputeID string) (defenceUpload, string, error) {
	path, ok := c.uploadPath(id)
	if !ok {
		return defenceUpload{}, "", errUploadGone
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return defenceUpload{}, "", errUploadGone
	}
	if err != nil {
		return defenceUpload{}, "", err
	}
	var u defenceUpload
	if err := json.Unmarshal(b, &u); err != nil {
		return defenceUpload{}, "", err
	}
	// Another person's upload, or another dispute's, is not this form's.
	if u.UserID != s.User.ID || u.DisputeID != disputeID || c.d.Now().Sub(u.Created) > defenceUploadTTL {
		return defenceUpload{}, "", errUploadGone
	}
	return u, path, nil
}

func saveUpload(path string, u defenceUpload) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// spoolDefence reads the evidence files of the upload into memory through
// temporary files (removed before it returns).
func (c *Console) spoolDefence(r *http.Request) ([]disputes.EvidenceFile, error) {
	sp := httpx.Spool{Dir: c.uploadDir(), Pattern: "console-evidence-*", Field: "file", Noun: "evidence file",
		MaxBytes: maxDefenceUpload, MaxFiles: disputes.MaxEvidenceFiles,
		Name: func(p *multipart.Part) (string, string) {
			name, reason := httpx.PartFileName(p, 255)
			if name == "" && reason == "the part has no filename" {
				return "", "no file chosen: choose one or more files"
			}
			return name, reason
		}}
	spooled, err := sp.Read(r.Header.Get("Content-Type"), r.Body)
	if err != nil {
		return nil, err
	}
	defer httpx.RemoveSpooled(spooled)
	files := make([]disputes.EvidenceFile, len(spooled))
	for i, f := range spooled {
		data, err := os.ReadFile(f.Path)
		if err != nil {
			return nil, &httpx.SpoolError{Err: err}
		}
		files[i] = disputes.EvidenceFile{Name: f.Name, Data: data}
	}
	return files, nil
}

func (c *Console) disputeDefendPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	det, err := c.d.Disputes.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d := det.Dispute
	if !actionable(d) {
		return &disputes.ConflictError{Rule: "a dispute that is " + string(d.Status) + " cannot be defended"}
	}
	files, err := c.spoolDefence(r)
	if err != nil {
		return err
	}
	title := "Defence of dispute " + d.APODisputeID
	doc, ct, err := disputes.Bundle(title, files)
	if err != nil {
		return err
	}
	if len(doc) > disputes.MaxEvidenceBytes {
		return &disputes.InvalidError{Field: "file", Reason: "together these files make a document of " +
			groupThousands(len(doc)) + " bytes; APO takes at most " + groupThousands(disputes.MaxEvidenceBytes) +
			": leave some out or make them smaller"}
	}
	now := c.d.Now()
	c.sweepUploads(now)
	sum := sha256.Sum256(doc)
	u := defenceUpload{UserID: s.User.ID, DisputeID: d.ID, ContentType: ct, Size: len(doc),
		SHA256: hex.EncodeToString(sum[:]), Doc: doc, Created: now}
	for _, f := range files {
		u.Files = append(u.Files, defenceFile{Name: f.Name, Size: len(f.Data)})
	}
	id := rand.Text()
	path, _ := c.uploadPath(id)
	if err := saveUpload(path, u); err != nil {
		return err
	}
	dc := defenceConfirm{DisputeID: d.ID, Upload: id, Files: u.Files, ContentType: ct, Size: len(doc), Bundled: len(files) > 1,
		Token: view{}.Token()}
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "dispute", "defence-swap", view{S: s, Data: dc})
		return nil
	}
	data, err := c.loadDispute(r.Context(), d.ID)
	if err != nil {
		return err
	}
	data.Defence = &dc
	c.renderDispute(w, r, s, http.StatusOK, data)
	return nil
}

func (c *Console) disputeDefend(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.postedDispute(w, r)
	if err != nil {
		return err
	}
	u, path, err := c.loadUpload(r.PostFormValue("upload"), s, d.ID)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionDisputeDefend, Target: audit.DisputeTarget(d.ID), Input: u.auditInput(),
		Run: func(ctx context.Context) (string, string, error) {
			if u.Doc == nil {
				// Sent before, yet this token was not: a new form for the
				// same upload. Defend would answer "already supplied".
				return "", "", errUploadGone
			}
			// Detached: once APO is asked, the answer must be recorded.
			got, err := c.d.Disputes.Defend(context.WithoutCancel(ctx), d.ID, u.Doc, u.ContentType, s.Actor())
			if err != nil {
				return "", "", err
			}
			// The document is in the dispute now; keep only what the upload
			// was, for a resubmission of this confirmation.
			u.Doc = nil
			if err := saveUpload(path, u); err != nil {
				_ = os.Remove(path)
			}
			what := "1 file"
			if len(u.Files) > 1 {
				what = plural(len(u.Files), "file", "files") + " as one PDF"
			}
			return disputeURL(got.ID), "Defence sent to APO: " + what + " of " + groupThousands(u.Size) + " bytes.", nil
		}})
}

// groupThousands writes n with thousands separators: 750,000.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// SizeText is the file's size for a page: "12,345 bytes".
func (f defenceFile) SizeText() string { return groupThousands(f.Size) + " bytes" }

// SizeText is the document's size for a page.
func (dc defenceConfirm) SizeText() string { return groupThousands(dc.Size) + " bytes" }

// EvidenceSize is the size of the defence document sent, for a page.
func (d disputeData) EvidenceSize() string {
	if d.Dispute.Evidence == nil {
		return ""
	}
	return groupThousands(d.Dispute.Evidence.Size) + " bytes"
}

// MaxBytesText is the upload's bound for a page.
func (d disputeData) MaxBytesText() string { return groupThousands(d.MaxBytes) }
