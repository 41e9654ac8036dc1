package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRouteTable covers every row of SPEC section 4's table, plus the
// methods each route refuses.
func TestRouteTable(t *testing.T) {
	tests := []struct {
		name     string
		endpoint Endpoint
		method   string
		want     Action
		ok       bool
	}{
		{"base GET", EndpointBase, "GET", ActionLogin, true},
		{"base HEAD", EndpointBase, "HEAD", ActionLogin, true},
		{"base POST", EndpointBase, "POST", 0, false},
		{"manifest GET", EndpointManifest, "GET", ActionPull, true},
		{"manifest HEAD", EndpointManifest, "HEAD", ActionPull, true},
		{"manifest PUT", EndpointManifest, "PUT", ActionPush, true},
		{"manifest DELETE", EndpointManifest, "DELETE", ActionDelete, true},
		{"manifest POST", EndpointManifest, "POST", 0, false},
		{"manifest PATCH", EndpointManifest, "PATCH", 0, false},
		{"blob GET", EndpointBlob, "GET", ActionPull, true},
		{"blob HEAD", EndpointBlob, "HEAD", ActionPull, true},
		{"blob DELETE", EndpointBlob, "DELETE", ActionDelete, true},
		{"blob PUT", EndpointBlob, "PUT", 0, false},
		{"tags GET", EndpointTags, "GET", ActionPull, true},
		{"tags HEAD", EndpointTags, "HEAD", ActionPull, true},
		{"tags DELETE", EndpointTags, "DELETE", 0, false},
		{"referrers GET", EndpointReferrers, "GET", ActionPull, true},
		{"referrers PUT", EndpointReferrers, "PUT", 0, false},
		{"upload start POST", EndpointUploadStart, "POST", ActionPush, true},
		{"upload start GET", EndpointUploadStart, "GET", 0, false},
		{"upload GET", EndpointUpload, "GET", ActionPush, true},
		{"upload HEAD", EndpointUpload, "HEAD", ActionPush, true},
		{"upload PATCH", EndpointUpload, "PATCH", ActionPush, true},
		{"upload PUT", EndpointUpload, "PUT", ActionPush, true},
		{"upload DELETE", EndpointUpload, "DELETE", ActionPush, true},
		{"upload POST", EndpointUpload, "POST", 0, false},
		{"catalog GET", EndpointCatalog, "GET", ActionLogin, true},
		{"catalog DELETE", EndpointCatalog, "DELETE", 0, false},
		{"unknown method", EndpointManifest, "PROPFIND", 0, false},
		{"lower-case method", EndpointManifest, "get", 0, false},
		{"unknown endpoint", Endpoint(99), "GET", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ActionFor(tt.endpoint, tt.method)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, []string{"GET", "HEAD", "PUT", "DELETE"}, Methods(EndpointManifest))
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{
		"read-only": LevelReadOnly, "ro": LevelReadOnly,
		"read-write": LevelReadWrite, "rw": LevelReadWrite,
		"read-write-delete": LevelReadWriteDelete, "rwd": LevelReadWriteDelete,
	} {
		got, err := ParseLevel(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "RW", "admin", "write", "read"} {
		_, err := ParseLevel(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), LevelHelp)
	}
}

func TestLevelAllows(t *testing.T) {
	tests := []struct {
		level                     Level
		login, pull, push, delete bool
	}{
		{LevelReadOnly, true, true, false, false},
		{LevelReadWrite, true, true, true, false},
		{LevelReadWriteDelete, true, true, true, true},
		{Level(0), false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			assert.Equal(t, tt.login, tt.level.Allows(ActionLogin))
			assert.Equal(t, tt.pull, tt.level.Allows(ActionPull))
			assert.Equal(t, tt.push, tt.level.Allows(ActionPush))
			assert.Equal(t, tt.delete, tt.level.Allows(ActionDelete))
			assert.False(t, tt.level.Allows(Action(0)))
		})
	}
}

func TestValidatePattern(t *testing.T) {
	for _, ok := range []string{"team-a", "team-*", "*", "a.b_c", "t?am", "base-images"} {
		assert.NoError(t, ValidatePattern(ok), ok)
	}
	for _, bad := range []string{"", "Team", "team/a", "team a", "[a-", "a\\", string(make([]byte, 300))} {
		assert.ErrorIs(t, ValidatePattern(bad), ErrBadPattern, bad)
	}
}

func TestMatchSpecificity(t *testing.T) {
	grants := []Grant{
		{Namespace: "*", Level: LevelReadOnly},
		{Namespace: "team-*", Level: LevelReadWrite},
		{Namespace: "team-a*", Level: LevelReadOnly},
		{Namespace: "team-b", Level: LevelReadWriteDelete},
	}
	tests := []struct {
		ns      string
		pattern string
	}{
		{"other", "*"},
		{"team-c", "team-*"},
		{"team-abc", "team-a*"},
		{"team-a", "team-a*"},
		{"team-b", "team-b"},
	}
	for _, tt := range tests {
		t.Run(tt.ns, func(t *testing.T) {
			g, ok := Match(grants, tt.ns)
			require.True(t, ok)
			assert.Equal(t, tt.pattern, g.Namespace)
		})
	}
	_, ok := Match([]Grant{{Namespace: "team-a", Level: LevelReadWrite}}, "team-ab")
	assert.False(t, ok, "an exact name is not a prefix")

	// Equal specificity: the weaker grant wins, whatever the order.
	tie := []Grant{{Namespace: "a-*", Level: LevelReadWrite}, {Namespace: "*-b", Level: LevelReadOnly}}
	g, _ := Match(tie, "a-b")
	assert.Equal(t, LevelReadOnly, g.Level)
	g, _ = Match([]Grant{tie[1], tie[0]}, "a-b")
	assert.Equal(t, LevelReadOnly, g.Level)
}

func TestDecide(t *testing.T) {
	p, err := New([]string{"public", "lib-*"})
	require.NoError(t, err)
	ro := &Subject{Name: "tcr$ro", Grants: []Grant{{Namespace: "team-a", Level: LevelReadOnly}}}
	rw := &Subject{Name: "tcr$rw", Grants: []Grant{{Namespace: "team-a", Level: LevelReadWrite}}}
	rwd := &Subject{Name: "tcr$rwd", Grants: []Grant{{Namespace: "team-a", Level: LevelReadWriteDelete}}}
	mixed := &Subject{Name: "tcr$mixed", Grants: []Grant{{Namespace: "*", Level: LevelReadOnly}, {Namespace: "team-a", Level: LevelReadWrite}}}
	none := &Subject{Name: "tcr$none"}
	access := func(repo string, a Action) Access {
		return Access{Repository: repo, Namespace: NamespaceOf(repo), Action: a}
	}
	tests := []struct {
		name    string
		subject *Subject
		access  Access
		allowed bool
		reason  string
	}{
		{"ro pulls", ro, access("team-a/app", ActionPull), true, "grant team-a=read-only"},
		{"ro push refused", ro, access("team-a/app", ActionPush), false, "account tcr$ro may not push to namespace team-a"},
		{"ro delete refused", ro, access("team-a/app", ActionDelete), false, "may not delete in namespace team-a"},
		{"rw pushes", rw, access("team-a/app/api", ActionPush), true, ""},
		{"rw delete refused", rw, access("team-a/app", ActionDelete), false, "may not delete"},
		{"rwd deletes", rwd, access("team-a", ActionDelete), true, ""},
		{"other namespace pull refused", rw, access("team-b/app", ActionPull), false, "account tcr$rw may not pull from namespace team-b"},
		{"namespace is the first component only", rw, access("x/team-a", ActionPull), false, ""},
		{"login with any account", none, Access{Action: ActionLogin}, true, "valid account"},
		{"account with no grants pulls nothing", none, access("team-a/x", ActionPull), false, "no grant"},
		{"specific beats star: push team-a", mixed, access("team-a/x", ActionPush), true, ""},
		{"specific beats star: no push elsewhere", mixed, access("team-b/x", ActionPush), false, ""},
		{"specific beats star: pull elsewhere", mixed, access("team-b/x", ActionPull), true, ""},
		{"anonymous pull public", nil, access("public/app", ActionPull), true, "public namespace"},
		{"anonymous pull public glob", nil, access("lib-go/x", ActionPull), true, "public namespace"},
		{"anonymous push public refused", nil, access("public/app", ActionPush), false, "anonymous"},
		{"anonymous delete public refused", nil, access("public/app", ActionDelete), false, "anonymous"},
		{"anonymous pull private refused", nil, access("team-a/app", ActionPull), false, "anonymous"},
		{"anonymous login refused", nil, Access{Action: ActionLogin}, false, "anonymous"},
		{"account pulls public without grant", none, access("public/x", ActionPull), true, "public namespace"},
		{"account push public without grant refused", ro, access("public/x", ActionPush), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.subject, tt.access)
			assert.Equal(t, tt.allowed, d.Allowed, d.Reason)
			assert.Contains(t, d.Reason, tt.reason)
		})
	}
	_, err = New([]string{"Bad/NS"})
	assert.ErrorIs(t, err, ErrBadPattern)
}

func TestNamespaceOf(t *testing.T) {
	assert.Equal(t, "team-a", NamespaceOf("team-a/app/api"))
	assert.Equal(t, "single", NamespaceOf("single"))
}
