// Reference verdicts from tailscale.com/wgengine/filter (v1.102.3) for e2e/node-filter.test.ts.
// stdin: {"rules":[tailcfg.FilterRule...], "local":["100.64.0.1/32",...], "packets":["hex",...]}
// stdout: {"verdicts":["Accept"|"Drop",...]}
package main

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"

	"go4.org/netipx"
	"tailscale.com/net/packet"
	"tailscale.com/tailcfg"
	"tailscale.com/types/logger"
	"tailscale.com/wgengine/filter"
)

func main() {
	var in struct {
		Rules   []tailcfg.FilterRule `json:"rules"`
		Local   []string             `json:"local"`
		Packets []string             `json:"packets"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	matches, err := filter.MatchesFromFilterRules(in.Rules)
	if err != nil {
		panic(err)
	}
	var b netipx.IPSetBuilder
	for _, l := range in.Local {
		b.AddPrefix(netip.MustParsePrefix(l))
	}
	local, _ := b.IPSet()
	f := filter.New(matches, nil, local, nil, nil, logger.Discard)
	out := []string{}
	for _, h := range in.Packets {
		raw, _ := hex.DecodeString(h)
		var q packet.Parsed
		q.Decode(raw)
		r := f.RunIn(&q, 0)
		if r == filter.Accept {
			out = append(out, "Accept")
		} else {
			out = append(out, "Drop")
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"verdicts": out})
}
