package proxy

import (
	"regexp"
	"strings"
)

// The OCI distribution spec's grammar ("Pulling manifests"): a name is
// path components of [a-z0-9] joined by . _ __ or runs of -, separated by /.
var (
	nameRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRe  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	// digestRe is the OCI image spec's digest grammar; registered
	// algorithms are checked for their exact encoding below.
	digestRe = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
	hexRe    = regexp.MustCompile(`^[a-f0-9]+$`)
	// uploadIDRe accepts the opaque session ids registries hand out
	// (distribution: UUIDs; others: base64url tokens), nothing that could
	// change the path.
	uploadIDRe = regexp.MustCompile(`^[A-Za-z0-9._~=+-]+$`)
)

// maxNameLength is distribution's limit on a repository name.
const maxNameLength = 255

func validUploadID(id string) bool { return len(id) <= 1024 && uploadIDRe.MatchString(id) }

func validName(n string) bool {
	return len(n) <= maxNameLength && nameRe.MatchString(n)
}

func validTag(t string) bool { return tagRe.MatchString(t) }

func validDigest(d string) bool {
	if len(d) > 256 || !digestRe.MatchString(d) {
		return false
	}
	alg, enc, _ := strings.Cut(d, ":")
	want := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[alg]
	return want == 0 || (len(enc) == want && hexRe.MatchString(enc))
}

func validReference(r string) bool {
	if strings.Contains(r, ":") {
		return validDigest(r)
	}
	return validTag(r)
}
