package disputes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// fact is what one dispute notification tells us, parsed and checked.
type fact struct {
	Kind             string // disputeNotificationType
	APODisputeID     string
	APOPaymentID     string
	PaymentRequestID string
	CaptureID        string
	DisputeType      string
	ReasonCode       string
	ReasonMessage    string
	Source           string
	ARN              string
	Amount           *money.Money
	DisputeTime      *time.Time
	DefenseDue       *time.Time
	Defendable       *bool
	AutoDefendReason string
	JudgedResult     string
	JudgedAmount     *money.Money
	JudgedTime       *time.Time
	AcceptReason     string
	AcceptTime       *time.Time
	AcquirerInfo     json.RawMessage
	Problems         []string // fields that did not parse; the rest still applies
}

// key names the fact, so APO's re-sends of one notification collapse into
// one event while a different notification of the same kind (a moved due
// time, a second judgement) is kept beside it.
func (f fact) key() string {
	parts := []string{"notify", f.Kind, f.JudgedResult, f.AcceptReason}
	if f.DefenseDue != nil {
		parts = append(parts, f.DefenseDue.Format(time.RFC3339))
	} else {
		parts = append(parts, "")
	}
	if f.JudgedAmount != nil {
		parts = append(parts, f.JudgedAmount.String())
	} else {
		parts = append(parts, "")
	}
	return strings.Join(parts, "|")
}

func parseFact(n *apo.DisputeNotification, raw []byte) fact {
	f := fact{
		Kind: n.DisputeNotificationType, APODisputeID: n.DisputeID, APOPaymentID: n.PaymentID,
		PaymentRequestID: n.PaymentRequestID, CaptureID: n.CaptureID, DisputeType: n.DisputeType,
		// Free text is APO's; mask anything that looks like a card number
		// in case it echoes one.
		ReasonCode: n.DisputeReasonCode, ReasonMessage: carddata.Redact(n.DisputeReasonMsg), Source: n.DisputeSource,
		ARN: n.ARN, AutoDefendReason: carddata.Redact(n.AutoDefendReason), JudgedResult: n.DisputeJudgedResult,
		AcceptReason: n.DisputeAcceptReason,
	}
	amount := func(field string, a *apo.Amount) *money.Money {
		if a == nil {
			return nil
		}
		m, err := money.ParseMinor(a.Value, a.Currency)
		if err != nil {
			f.Problems = append(f.Problems, field+": "+err.Error())
			return nil
		}
		return &m
	}
	f.Amount = amount("disputeAmount", n.DisputeAmount)
	f.JudgedAmount = amount("disputeJudgedAmount", n.DisputeJudgedAmount)
	at := func(field, v string) *time.Time {
		t, err := parseTime(v)
		if err != nil {
			f.Problems = append(f.Problems, field+": "+err.Error())
		}
		return t
	}
	f.DisputeTime = at("disputeTime", n.DisputeTime)
	f.DefenseDue = at("defenseDueTime", n.DefenseDueTime)
	f.JudgedTime = at("disputeJudgedTime", n.DisputeJudgedTime)
	f.AcceptTime = at("disputeAcceptTime", n.DisputeAcceptTime)
	// apo.FlexBool cannot tell "false" from "absent"; only a defendable
	// APO actually sent should be recorded.
	var presence struct {
		Defendable *apo.FlexBool `json:"defendable"`
	}
	if len(raw) > 0 && json.Unmarshal(raw, &presence) == nil && presence.Defendable != nil {
		v := bool(*presence.Defendable)
		f.Defendable = &v
	}
	if n.AcquirerInfo != nil {
		if b, err := json.Marshal(n.AcquirerInfo); err == nil {
			f.AcquirerInfo = carddata.RedactJSON(b)
		}
	}
	return f
}

// HandleDisputeNotification applies one dispute notification (the inbox
// has already stored it). It is idempotent and order-independent: a replay
// of the same notification changes nothing, and a notification that
// arrives before the one that should precede it (DISPUTE_JUDGED before
// DISPUTE_CREATED) creates the dispute from its own fields, while the late
// one only fills in what was missing and never moves the status back. A
// dispute whose payment we do not know is stored and flagged
// needs_attention. An error means the notification should be processed
// again later.
//
// The phases: parse the fact, find the payment it names, apply it to the
// dispute in one transaction (applyFact), log the outcome, then tell
// payments what is under dispute and lost (syncPayment).
func (s *Service) HandleDisputeNotification(ctx context.Context, n *apo.DisputeNotification, raw []byte) error {
	if n == nil || strings.TrimSpace(n.DisputeID) == "" {
		return &InvalidError{Field: "disputeId", Reason: "the notification names no dispute"}
	}
	f := parseFact(n, raw)
	payload := raw
	if len(payload) == 0 {
		payload, _ = json.Marshal(n)
	}
	payload = carddata.RedactJSON(payload)

	pay, found, err := s.findPayment(ctx, f.PaymentRequestID, f.APOPaymentID)
	if err != nil {
		return err
	}
	r, err := s.applyFact(ctx, f, payload, pay, found)
	if err != nil {
		return fmt.Errorf("apply dispute notification %s %s: %w", f.Kind, f.APODisputeID, err)
	}
	s.logOutcome(ctx, f, r)
	if r.d.PaymentID == "" {
		return nil
	}
	// Also on a replay: the first delivery may have committed the dispute
	// and then failed to reach payments.
	return s.syncPayment(ctx, r.d, paymentUpdate(f, r, payload))
}

// outcome is what applyFact did to the dispute.
type outcome struct {
	d      Dispute
	before Status // the status before this notification
	ch     change
	dup    bool // a re-send of a notification already applied: nothing done
}

// applyFact applies the fact to its dispute, creating the dispute if this
// is the first we hear of it, and records the event, in one transaction.
// pay is the payment the notification names, if found.
func (s *Service) applyFact(ctx context.Context, f fact, payload []byte, pay payments.Payment, found bool) (outcome, error) {
	now := s.now().UTC()
	var r outcome
	err := s.inTx(ctx, func(st *Store) error {
		base := Dispute{ID: uuid.Must(uuid.NewV7()).String(), APODisputeID: f.APODisputeID, Status: StatusOpen,
			CreatedAt: now, UpdatedAt: now}
		enrich(&base, f)
		created := false
		var err error
		if r.d, created, err = st.Ensure(ctx, base); err != nil {
			return err
		}
		factKey := f.key()
		if !created {
			if r.dup, err = st.HasEvent(ctx, r.d.ID, factKey); err != nil || r.dup {
				return err // a re-send of a notification already applied
			}
		}
		r.before = r.d.Status
		// applied: the notification's facts changed the dispute (status,
		// judgement, fields, the payment link). changed: the row needs
		// writing, which also covers bookkeeping such as attention flags.
		applied := created
		if r.d.PaymentID == "" && found {
			r.d.PaymentID = pay.ID
			clearAttention(&r.d, attentionNoPayment)
			applied = true
		}
		applied = enrich(&r.d, f) || applied
		r.ch = transition(&r.d, f)
		applied = r.ch.applied || applied
		applied = settleLost(&r.d) || applied
		flagged, err := s.flagAttention(ctx, &r.d, f, r.ch, pay, found)
		if err != nil {
			return err
		}
		changed := applied || flagged
		if r.d.LastNotification != f.Kind {
			r.d.LastNotification, changed = f.Kind, true
		}
		if changed {
			r.d.UpdatedAt = now
			if err := st.Update(ctx, r.d); err != nil {
				return err
			}
		}
		ev := Event{DisputeID: r.d.ID, Source: SourceNotification, Kind: firstNonEmpty(f.Kind, "UNKNOWN"),
			StatusBefore: r.before, StatusAfter: r.d.Status, Applied: applied, Note: r.ch.note, Payload: payload,
			CreatedAt: now}
		if created {
			ev.StatusBefore, ev.Note = "", "created from this notification; "+r.ch.note
		}
		_, err = st.AddEvent(ctx, ev, factKey)
		return err
	})
	return r, err
}

// flagAttention flags, in this order, what a person must look at: no
// payment, a currency or an amount the payment cannot have, an unknown
// dispute type, fields that did not parse, and what transition found (ch).
// It reports whether the dispute changed. A payment an earlier
// notification linked, which this one does not name, is loaded for the
// checks.
func (s *Service) flagAttention(ctx context.Context, d *Dispute, f fact, ch change, pay payments.Payment, found bool) (bool, error) {
	changed := false
	if d.PaymentID == "" {
		changed = addAttention(d, attentionNoPayment) || changed
	}
	if !found && d.PaymentID != "" {
		// Linked by an earlier notification; this one does not name it.
		var err error
		if pay, err = s.pay.Get(ctx, d.PaymentID); err != nil {
			return false, fmt.Errorf("payment %s: %w", d.PaymentID, err)
		}
		found = true
	}
	if found && d.Amount.Currency != "" && d.Amount.Currency != pay.Amount.Currency {
		changed = addAttention(d, fmt.Sprintf("dispute currency %s differs from the payment's %s",
			d.Amount.Currency, pay.Amount.Currency)) || changed
	}
	if found {
		// An amount the payment cannot have lost (more than it captured)
		// is kept as APO sent it, and a person must look.
		if why := impossibleAmount(*d, pay); why != "" {
			changed = addAttention(d, why) || changed
		}
	}
	switch d.Type {
	case "", TypeChargeback, TypeRetrievalRequest, TypeComplianceRequest:
	default:
		changed = addAttention(d, fmt.Sprintf("unknown dispute type %q", d.Type)) || changed
	}
	for _, p := range f.Problems {
		changed = addAttention(d, "unreadable "+p) || changed
	}
	if ch.attention != "" {
		changed = addAttention(d, ch.attention) || changed
	}
	return changed, nil
}

// logOutcome logs what a notification did, once.
func (s *Service) logOutcome(ctx context.Context, f fact, r outcome) {
	d := r.d
	log := s.log.With("dispute_id", d.ID, "apo_dispute_id", d.APODisputeID, "payment_id", d.PaymentID,
		"notification", f.Kind)
	switch {
	case r.dup:
		log.DebugContext(ctx, "dispute notification already applied")
	case d.NeedsAttention:
		log.WarnContext(ctx, "dispute needs attention", "status_before", r.before, "status", d.Status,
			"reason", d.AttentionReason)
	default:
		log.InfoContext(ctx, "dispute notification applied", "status_before", r.before, "status", d.Status,
			"note", r.ch.note)
	}
	if f.Kind == apo.DisputeDefenseDueAlert && !r.dup {
		log.WarnContext(ctx, "APO warns the dispute defence is due soon", "defense_due_time", d.DefenseDue)
	}
}

// paymentUpdate is the change payments records on the dispute's payment.
func paymentUpdate(f fact, r outcome, payload []byte) payments.DisputeUpdate {
	kind := firstNonEmpty(f.Kind, "UNKNOWN")
	u := payments.DisputeUpdate{DisputeID: r.d.APODisputeID, Source: payments.SourceNotification,
		Kind: kind, FactKey: f.key(), Payload: payload,
		Note: fmt.Sprintf("%s: the dispute is %s", kind, r.d.Status)}
	if r.d.Amount.Currency != "" {
		u.Note += ", amount " + r.d.Amount.String()
	}
	if r.ch.note != "" {
		u.Note += " (" + r.ch.note + ")"
	}
	return u
}

// enrich fills the dispute's fields the notification knows and the
// dispute does not. It reports whether anything changed. Status and the
// judgement are transition's business.
func enrich(d *Dispute, f fact) bool {
	changed := false
	str := func(dst *string, v string) {
		if *dst == "" && v != "" {
			*dst, changed = v, true
		}
	}
	str(&d.APOPaymentID, f.APOPaymentID)
	str(&d.PaymentRequestID, f.PaymentRequestID)
	str(&d.CaptureID, f.CaptureID)
	str(&d.Type, f.DisputeType)
	str(&d.ReasonCode, f.ReasonCode)
	str(&d.ReasonMessage, f.ReasonMessage)
	str(&d.Source, f.Source)
	str(&d.ARN, f.ARN)
	str(&d.AutoDefendReason, f.AutoDefendReason)
	str(&d.AcceptReason, f.AcceptReason)
	if d.Amount.Currency == "" && f.Amount != nil {
		d.Amount, changed = *f.Amount, true
	}
	tm := func(dst **time.Time, v *time.Time) {
		if *dst == nil && v != nil {
			*dst, changed = v, true
		}
	}
	tm(&d.DisputeTime, f.DisputeTime)
	tm(&d.AcceptTime, f.AcceptTime)
	// A due-time alert carries APO's current deadline; any other
	// notification only supplies one we lack (a late DISPUTE_CREATED must
	// not undo an extension).
	if f.DefenseDue != nil && (d.DefenseDue == nil || (f.Kind == apo.DisputeDefenseDueAlert && !f.DefenseDue.Equal(*d.DefenseDue))) {
		d.DefenseDue, changed = f.DefenseDue, true
	}
	if f.Defendable != nil && (d.Defendable == nil || *d.Defendable != *f.Defendable) {
		d.Defendable, changed = f.Defendable, true
	}
	if len(d.AcquirerInfo) == 0 && len(f.AcquirerInfo) > 0 {
		d.AcquirerInfo, changed = f.AcquirerInfo, true
	}
	return changed
}

// change is what transition did.
type change struct {
	applied   bool   // the status (or the judgement) changed
	note      string // what happened, or why nothing did
	attention string // set when a person must look: a conflict, an unknown value
}

// target is the status a notification asks for ("" for none) and, for a
// non-final target, the statuses it may move from.
func target(f fact) (to Status, from []Status, attention string) {
	switch f.Kind {
	case apo.DisputeCreated, apo.DisputeDefenseDueAlert:
		return "", nil, ""
	case apo.DisputeDefenseSupplied:
		return StatusDefenseSupplied, []Status{StatusOpen, StatusExpiredUndefended}, ""
	case apo.DisputeAccepted:
		return StatusAccepted, []Status{StatusOpen, StatusExpiredUndefended}, ""
	case apo.DisputeJudged:
		switch f.JudgedResult {
		case JudgedAcceptByMerchant, JudgedValidateFail:
			return StatusLost, nil, ""
		case JudgedAcceptByCustomer, JudgedValidateSuccess:
			return StatusWon, nil, ""
		}
		return "", nil, fmt.Sprintf("unknown judgement %q", f.JudgedResult)
	case apo.DisputeCancelled:
		return StatusCancelled, nil, ""
	case apo.DisputeRDRResolved:
		// Rapid Dispute Resolution refunds the cardholder under the
		// merchant's pre-set rules: the amount is gone.
		return StatusLost, nil, ""
	}
	return "", nil, fmt.Sprintf("unknown dispute notification type %q", f.Kind)
}

// transition applies the status change a notification asks for, if the
// state machine allows it. Final statuses (WON, LOST, CANCELLED) may be
// reached from any non-final one, because APO's final word ends the
// dispute whatever we believed; they are never left, and a different final
// answer is recorded in the history for a person to resolve, not applied.
func transition(d *Dispute, f fact) change {
	to, from, attention := target(f)
	cur := d.Status
	var ch change
	switch {
	case to == "":
		ch = change{note: "no status change", attention: attention}
	case cur == to:
		ch = change{note: "already " + string(to)}
	case cur.Final() && to.Final():
		return change{note: fmt.Sprintf("conflicting final answer %s after %s; not applied", to, cur),
			attention: fmt.Sprintf("APO sent %s (%s) after the dispute was %s", f.Kind, to, cur)}
	case cur.Final():
		return change{note: fmt.Sprintf("stale: the dispute is already %s", cur)}
	case !to.Final() && !contains(from, cur):
		return change{note: fmt.Sprintf("%s does not follow %s; not applied", f.Kind, cur),
			attention: fmt.Sprintf("APO sent %s while the dispute was %s", f.Kind, cur)}
	default:
		d.Status = to
		if !to.conceded() {
			d.LostMinor = 0
		}
		ch = change{applied: true, note: fmt.Sprintf("%s → %s", cur, to)}
	}
	if f.Kind == apo.DisputeJudged && recordJudgement(d, f) {
		ch.applied = true
	}
	return ch
}

// recordJudgement keeps APO's judgement (when it does not conflict with
// the status, which transition has checked). It reports whether anything
// changed.
func recordJudgement(d *Dispute, f fact) bool {
	changed := false
	if f.JudgedResult != "" && d.JudgedResult != f.JudgedResult {
		d.JudgedResult, changed = f.JudgedResult, true
	}
	if f.JudgedAmount != nil && (d.JudgedAmount == nil || *d.JudgedAmount != *f.JudgedAmount) {
		d.JudgedAmount, changed = f.JudgedAmount, true
	}
	if f.JudgedTime != nil && (d.JudgedTime == nil || !d.JudgedTime.Equal(*f.JudgedTime)) {
		d.JudgedTime, changed = f.JudgedTime, true
	}
	return changed
}

// attentionLostUnknown flags a conceded dispute whose amount APO has not
// told us yet; it clears itself when a later notification brings it.
const attentionLostUnknown = "lost amount unknown: APO has not sent the dispute amount"

// settleLost keeps LostMinor right for a conceded dispute: the judged
// amount when APO gave one, otherwise the disputed amount. It reports
// whether anything changed.
func settleLost(d *Dispute) bool {
	if !d.Status.conceded() {
		return false
	}
	lost, known := d.Amount.Minor, d.Amount.Currency != ""
	if j := d.JudgedAmount; j != nil && (j.Currency == d.Amount.Currency || !known) {
		lost, known = j.Minor, true
	}
	changed := false
	if !known {
		return addAttention(d, attentionLostUnknown)
	}
	changed = clearAttention(d, attentionLostUnknown)
	if lost != d.LostMinor {
		d.LostMinor, changed = lost, true
	}
	return changed
}

func contains(list []Status, s Status) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
