package auth

import (
	"testing"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	// The permission table of design.md §9, written out in full so a change
	// to Allows has to change this table too.
	want := map[Role][]Need{
		RoleViewer:   {NeedRead},
		RoleFinance:  {NeedRead, NeedFinance},
		RoleOperator: {NeedRead, NeedOperate},
		RoleCheckout: {NeedCheckout},
		RoleAdmin:    {NeedRead, NeedFinance, NeedOperate, NeedCheckout, NeedAdmin},
	}
	for _, r := range Roles() {
		allowed := map[Need]bool{}
		for _, n := range want[r] {
			allowed[n] = true
		}
		for _, n := range needs {
			if got := Allows(r, n); got != allowed[n] {
				t.Errorf("Allows(%s, %s) = %v, want %v", r, n, got, allowed[n])
			}
		}
	}
	if Allows("root", NeedRead) {
		t.Error("Allows(unknown role) = true, want false")
	}
	if Allows(RoleAdmin, "everything") {
		t.Error("Allows(admin, unknown need) = true, want false")
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range Roles() {
		got, err := ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRole("Admin"); err == nil {
		t.Error("ParseRole(Admin) succeeded, want error (roles are lower case)")
	}
}
