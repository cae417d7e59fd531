package sandbox

import (
	"errors"
	"html/template"
	"mime"
	"net/http"
)

// challengeView is what the 3DS page shows: masked card facts only.
type challengeView struct {
	PaymentID   string
	Amount      string // major units with the currency's decimals
	Currency    string
	Card        string // masked number
	Brand       string
	Status      string
	Waiting     bool
	RedirectURL string
	Expiry      string
	Error       string
}

// challengeFor reads what the 3DS page of a payment needs, applying any
// deadline first. ok is false for an unknown payment.
func (s *Server) challengeFor(paymentID string) (v challengeView, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.payments[paymentID]
	if p == nil {
		return v, false
	}
	s.refresh(p)
	return challengeView{
		PaymentID:   p.ID,
		Amount:      formatMajor(p.Amount.Value, p.Amount.Currency),
		Currency:    p.Amount.Currency,
		Card:        p.Card.Masked,
		Brand:       p.Card.Brand,
		Status:      p.Status,
		Waiting:     p.Status == statusProcessing && p.Pending == pendingChallenge,
		RedirectURL: p.RedirectURL,
		Expiry:      formatTime(p.ExpiryTime),
	}, true
}

// challengePage is the issuer's 3DS challenge. The buttons post the form
// back to the same URL; a browser then follows the 303 to the merchant's
// paymentRedirectUrl, which, as with APO, carries no result: the merchant
// learns it from the notification or an inquiry.
var challengePage = template.Must(template.New("3ds").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>3-D Secure authentication</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1b; }
.card { border: 1px solid #ccc; border-radius: 8px; padding: 1.5rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .4rem 1rem; }
dt { color: #666; }
button { font-size: 1rem; padding: .6rem 1.2rem; margin-right: .5rem; border-radius: 6px; border: 1px solid #888; cursor: pointer; }
#authenticate { background: #0b6e4f; color: #fff; border-color: #0b6e4f; }
.note { color: #666; font-size: .85rem; }
</style>
</head>
<body>
<div class="card">
<h1>Verify it is you</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<dl>
<dt>Payment</dt><dd id="payment-id">{{.PaymentID}}</dd>
<dt>Amount</dt><dd id="amount">{{.Currency}} {{.Amount}}</dd>
<dt>Card</dt><dd id="card">{{.Brand}} {{.Card}}</dd>
</dl>
{{if .Waiting}}
<form method="post" action="/sandbox/3ds/{{.PaymentID}}">
<button id="authenticate" type="submit" name="outcome" value="success">Authenticate</button>
<button id="fail" type="submit" name="outcome" value="fail">Fail</button>
</form>
{{if .Expiry}}<p class="note">This challenge expires at {{.Expiry}}.</p>{{end}}
{{else}}
<p id="status">This payment is not waiting for authentication (status {{.Status}}).</p>
{{if .RedirectURL}}<p><a id="return" href="{{.RedirectURL}}">Return to the merchant</a></p>{{end}}
{{end}}
<p class="note">APO sandbox: simulated issuer authentication.</p>
</div>
</body>
</html>
`))

func (s *Server) renderChallenge(w http.ResponseWriter, status int, v challengeView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = challengePage.Execute(w, v)
}

// handleChallengePage serves GET /sandbox/3ds/{paymentId}.
func (s *Server) handleChallengePage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.challengeFor(r.PathValue("paymentId"))
	if !ok {
		http.Error(w, "no payment with this id", http.StatusNotFound)
		return
	}
	s.renderChallenge(w, http.StatusOK, v)
}

// handleChallengePost serves POST /sandbox/3ds/{paymentId}: the page's
// form (outcome=success|fail), answered with a 303 to paymentRedirectUrl,
// or a script's JSON {"outcome": "success"|"fail"}, answered with JSON.
func (s *Server) handleChallengePost(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("paymentId")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	asJSON := ct == "application/json"
	var outcome string
	if asJSON {
		var in struct {
			Outcome string `json:"outcome"`
		}
		if !readControl(w, r, &in) {
			return
		}
		outcome = in.Outcome
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxControlBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		outcome = r.PostForm.Get("outcome")
	}
	if outcome != "success" && outcome != "fail" {
		if asJSON {
			writeError(w, http.StatusBadRequest, `outcome must be "success" or "fail"`)
		} else {
			http.Error(w, `outcome must be "success" or "fail"`, http.StatusBadRequest)
		}
		return
	}
	err := s.CompleteChallenge(id, outcome == "success")
	v, ok := s.challengeFor(id)
	switch {
	case asJSON && err != nil:
		writeErr(w, err)
	case asJSON:
		s.mu.Lock()
		p := s.st.payments[id]
		out := map[string]string{
			"paymentId":         p.ID,
			"paymentStatus":     p.Status,
			"paymentResultCode": p.ResultCode,
			"redirectUrl":       p.RedirectURL,
		}
		s.mu.Unlock()
		writeJSON(w, out)
	case !ok:
		http.Error(w, "no payment with this id", http.StatusNotFound)
	case err != nil && errors.Is(err, ErrState):
		v.Error = "This authentication was already completed or has expired."
		s.renderChallenge(w, http.StatusConflict, v)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case v.RedirectURL != "":
		http.Redirect(w, r, v.RedirectURL, http.StatusSeeOther)
	default:
		s.renderChallenge(w, http.StatusOK, v) // nowhere to send the buyer: show the result
	}
}
