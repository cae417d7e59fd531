// Package auth owns API keys (the api_keys table) and the role model of the
// admin API (design.md §9): who a caller is (Actor) and what a role may do.
// It knows nothing about HTTP; cmd/api turns its answers into 401 and 403.
package auth

import (
	"fmt"
	"slices"
)

// Role is what an API key is allowed to do. Roles are fixed by design.md §9;
// the api_keys table enforces the same list with a CHECK constraint.
type Role string

// The roles of design.md §9.
const (
	// RoleViewer reads everything and changes nothing.
	RoleViewer Role = "viewer"
	// RoleFinance is a viewer that may also act on reconciliation
	// (upload reports, start runs, resolve discrepancies).
	RoleFinance Role = "finance"
	// RoleOperator is a viewer that may also capture, cancel, refund,
	// sync payments and act on disputes.
	RoleOperator Role = "operator"
	// RoleCheckout may only create payments; it cannot read them back, so a
	// key leaked from a checkout front end exposes no payment data.
	RoleCheckout Role = "checkout"
	// RoleAdmin may do everything, including managing API keys and reading
	// the audit log.
	RoleAdmin Role = "admin"
)

// Roles lists every role, least powerful first.
func Roles() []Role {
	return []Role{RoleViewer, RoleFinance, RoleOperator, RoleCheckout, RoleAdmin}
}

// ParseRole returns the Role named s, or an *InvalidError.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", &InvalidError{Field: "role", Reason: fmt.Sprintf("unknown role %q", s)}
	}
	return r, nil
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	switch r {
	case RoleViewer, RoleFinance, RoleOperator, RoleCheckout, RoleAdmin:
		return true
	}
	return false
}

// Need is the permission an operation requires. Operations declare one Need
// and Allows decides whether a role satisfies it, so the role table lives in
// exactly one place.
type Need string

// The permissions operations can require.
const (
	// NeedRead is reading any resource (payments, disputes, recon runs).
	NeedRead Need = "read"
	// NeedFinance is a reconciliation action.
	NeedFinance Need = "finance"
	// NeedOperate is a payment or dispute action: capture, cancel, refund,
	// sync, accept or defend a dispute.
	NeedOperate Need = "operate"
	// NeedCheckout is creating a payment.
	NeedCheckout Need = "checkout"
	// NeedAdmin is managing API keys and reading the audit log.
	NeedAdmin Need = "admin"
)

// needs lists every permission; Valid accepts exactly these.
var needs = [...]Need{NeedRead, NeedFinance, NeedOperate, NeedCheckout, NeedAdmin}

// Valid reports whether n is one of the permissions above.
func (n Need) Valid() bool {
	return slices.Contains(needs[:], n)
}

// Allows reports whether role may perform an operation that requires need.
// Unknown roles and unknown needs are refused, so a typo fails closed.
func Allows(role Role, need Need) bool {
	if !need.Valid() {
		return false
	}
	switch role {
	case RoleAdmin:
		return true
	case RoleViewer:
		return need == NeedRead
	case RoleFinance:
		return need == NeedRead || need == NeedFinance
	case RoleOperator:
		return need == NeedRead || need == NeedOperate
	case RoleCheckout:
		// Deliberately not NeedRead: see RoleCheckout.
		return need == NeedCheckout
	}
	return false
}
