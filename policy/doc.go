// Package policy decides whether an account may perform an action on a
// repository. It works on plain values only (no net/http): the proxy turns a
// request into an Access and asks Decide, so the whole permission table of
// SPEC section 4 is a table test here.
package policy
