package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"go.uber.org/zap"

	"github.com/robotgate/robotgate/policy"
)

// catalogPage is how many entries the gateway asks the upstream for at a
// time, and maxCatalogPages bounds the walk against an upstream whose Link
// never ends.
const (
	catalogPage     = 1000
	maxCatalogPages = 10000
)

type catalogBody struct {
	Repositories []string `json:"repositories"`
}

// serveCatalog answers /v2/_catalog itself: it walks every upstream page,
// keeps the repositories the subject may pull, and applies n and last to
// that filtered, sorted list, with a Link header while more remain. The
// upstream's own pagination would leak names and miscount pages.
func (g *Gateway) serveCatalog(w http.ResponseWriter, r *http.Request, s *policy.Subject) {
	q := r.URL.Query()
	limit := -1
	if v := q.Get("n"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, g.opts.Realm, newError(CodePaginationInvalid, "n must be a non-negative integer, got %q", v))
			return
		}
		limit = n
	}
	last := q.Get("last")

	all, resp, err := g.fetchCatalog(r, s)
	if err != nil {
		g.upstreamError(w, r, err)
		return
	}
	if resp != nil { // the upstream refused: pass its answer through
		defer resp.Body.Close()
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	sort.Strings(all)
	start := sort.SearchStrings(all, last)
	if last != "" && start < len(all) && all[start] == last {
		start++
	}
	page := all[start:]
	more := false
	if limit >= 0 && len(page) > limit {
		page, more = page[:limit], true
	}
	if more && len(page) > 0 {
		next := url.Values{"n": {strconv.Itoa(limit)}, "last": {page[len(page)-1]}}
		w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?%s>; rel="next"`, next.Encode()))
	}
	body, _ := json.Marshal(catalogBody{Repositories: append([]string{}, page...)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// fetchCatalog walks the upstream's catalog. A non-200 answer is returned
// as resp for the caller to pass through (body open).
func (g *Gateway) fetchCatalog(r *http.Request, s *policy.Subject) (repos []string, resp *http.Response, err error) {
	next := g.opts.Upstream.ResolveReference(&url.URL{Path: "/v2/_catalog", RawQuery: "n=" + strconv.Itoa(catalogPage)})
	for pages := 0; next != nil; pages++ {
		if pages == maxCatalogPages {
			return nil, nil, fmt.Errorf("upstream catalog has more than %d pages", maxCatalogPages)
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, next.String(), nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := g.client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized {
			resp.Body.Close()
			return nil, nil, errUpstreamAuth
		}
		if resp.StatusCode != http.StatusOK {
			return nil, resp, nil
		}
		var page catalogBody
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("upstream catalog: %w", err)
		}
		for _, repo := range page.Repositories {
			if !validName(repo) {
				g.log.Warn("upstream catalog lists an invalid name; skipped", zap.String("repository", repo))
				continue
			}
			d := g.opts.Policy.Decide(s, policy.Access{Repository: repo, Namespace: policy.NamespaceOf(repo), Action: policy.ActionPull})
			if d.Allowed {
				repos = append(repos, repo)
			}
		}
		next = nextLink(next, resp.Header.Get("Link"))
	}
	return repos, nil, nil
}

// nextLink resolves a Link: <...>; rel="next" header against the current
// page; nil when there is none.
func nextLink(base *url.URL, link string) *url.URL {
	start, end := -1, -1
	for i, c := range link {
		if c == '<' {
			start = i
		} else if c == '>' && start >= 0 {
			end = i
			break
		}
	}
	if start < 0 || end < 0 {
		return nil
	}
	u, err := url.Parse(link[start+1 : end])
	if err != nil {
		return nil
	}
	n := base.ResolveReference(u)
	if n.Host != base.Host {
		return nil // never follow a catalog link to another host with our credentials
	}
	return n
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
