package payments

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/money"
)

// violations collects the broken rules of one request, so that validate
// can report all of them at once.
type violations []error

func (v *violations) add(field, reason string) {
	*v = append(*v, &InvalidError{Field: field, Reason: reason})
}

// checkAmount: a known currency and a positive amount below the ceiling.
func (r *CreateRequest) checkAmount(v *violations) {
	known := money.Known(r.Amount.Currency)
	if !known {
		v.add("amount.currency", "not an ISO 4217 currency")
	}
	if r.Amount.Minor <= 0 {
		v.add("amount.value", "must be positive")
	} else if known {
		if err := money.CheckCeiling(r.Amount); err != nil {
			v.add("amount.value", err.Error())
		}
	}
}

// checkOrder: a capture mode (MANUAL when none is given), the merchant's
// order reference, and at least one way to name the buyer.
func (r *CreateRequest) checkOrder(v *violations) {
	switch r.CaptureMode {
	case "":
		r.CaptureMode = CaptureManual
	case CaptureManual, CaptureAutomatic:
	default:
		v.add("capture_mode", "MANUAL or AUTOMATIC")
	}
	if strings.TrimSpace(r.ReferenceOrderID) == "" {
		v.add("order.reference_order_id", "required")
	}
	if r.BuyerReference == "" && r.BuyerEmail == "" && r.BuyerPhone == "" {
		v.add("buyer", "give at least one of reference, email, phone")
	}
}

// checkEnv: the buyer's IP address, a terminal type with the OS type it
// needs (WAP and APP name one, WEB may), and where 3DS sends the buyer back.
func (r *CreateRequest) checkEnv(v *violations) {
	if net.ParseIP(r.ClientIP) == nil {
		v.add("env.client_ip", "not an IP address")
	}
	switch r.TerminalType {
	case "WEB":
		if r.OSType != "" && r.OSType != "IOS" && r.OSType != "ANDROID" {
			v.add("env.os_type", "IOS or ANDROID")
		}
	case "WAP", "APP":
		if r.OSType != "IOS" && r.OSType != "ANDROID" {
			v.add("env.os_type", "IOS or ANDROID is required for "+r.TerminalType)
		}
	default:
		v.add("env.terminal_type", "WEB, WAP or APP")
	}
	if u, err := url.Parse(r.RedirectURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("redirect_url", "an absolute http(s) URL")
	}
}

// check: either a card number or a token. A number is normalised and must
// pass Luhn; its CVV, expiry (normalised too) and holder name are checked
// with it.
func (c *CardInput) check(v *violations, now time.Time) {
	if (c.Number == "") == (c.Token == "") {
		v.add("card", "give either number or token")
	}
	if c.Number == "" {
		return
	}
	c.Number = normalizePAN(c.Number)
	if !allDigits(c.Number) || len(c.Number) < carddata.MinLen || len(c.Number) > carddata.MaxLen || !carddata.Luhn(c.Number) {
		v.add("card.number", "not a valid card number")
	}
	if c.CVV != "" && (!allDigits(c.CVV) || len(c.CVV) < 3 || len(c.CVV) > 4) {
		v.add("card.cvv", "3 or 4 digits")
	}
	if m, y, err := expiry(c.ExpiryMonth, c.ExpiryYear, now); err != nil {
		*v = append(*v, err)
	} else {
		c.ExpiryMonth, c.ExpiryYear = m, y
	}
	c.checkHolder(v)
}

// checkHolder: the name on the card, in printable ASCII as APO requires.
func (c *CardInput) checkHolder(v *violations) {
	if strings.TrimSpace(c.HolderFirst+c.HolderLast) == "" {
		v.add("card.holder_first_name", "the name on the card is required with a number: give holder_first_name, holder_last_name or both")
	}
	notASCII := func(ch rune) bool { return ch > 126 || ch < 32 }
	if strings.ContainsFunc(c.HolderFirst, notASCII) {
		v.add("card.holder_first_name", "English (ASCII) letters only")
	}
	if strings.ContainsFunc(c.HolderLast, notASCII) {
		v.add("card.holder_last_name", "English (ASCII) letters only")
	}
}
