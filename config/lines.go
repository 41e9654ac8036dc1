package config

import (
	"bufio"
	"strings"
)

// keyLine finds the line of a dotted key ("server.listen") in TOML text by
// tracking [table] headers; 0 when it cannot tell. BurntSushi/toml knows
// key positions but does not export them, and an unknown key is worth a
// line number in the error.
func keyLine(data []byte, key []string) int {
	if len(key) == 0 {
		return 0
	}
	table := strings.Join(key[:len(key)-1], ".")
	leaf := key[len(key)-1]
	current := ""
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			current = strings.Trim(line, "[] \t")
			if i := strings.Index(current, "#"); i >= 0 {
				current = strings.TrimSpace(strings.Trim(current[:i], "[] \t"))
			}
			if current == strings.Join(key, ".") {
				return n
			}
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if ok && current == table && strings.Trim(strings.TrimSpace(name), `"'`) == leaf {
			return n
		}
	}
	return 0
}
