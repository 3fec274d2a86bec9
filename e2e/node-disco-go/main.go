// Cross-check of tailtab's disco codec against tailscale.com/disco (v1.102.3), used by
// e2e/node-disco.test.ts. Args: <go disco priv hex> <our disco pub hex> [our packet hex...].
// Prints JSON: Go's parse of each of our packets, and packets sealed by Go to us.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"

	"go4.org/mem"
	"tailscale.com/disco"
	"tailscale.com/types/key"
)

func main() {
	privRaw, _ := hex.DecodeString(os.Args[1])
	ourRaw, _ := hex.DecodeString(os.Args[2])
	priv := key.DiscoPrivateFromRaw32(mem.B(privRaw))
	ours := key.DiscoPublicFromRaw32(mem.B(ourRaw))
	shared := priv.Shared(ours)
	out := map[string]any{}
	var parsed []string
	for _, h := range os.Args[3:] {
		p, _ := hex.DecodeString(h)
		if !disco.LooksLikeDiscoWrapper(p) {
			parsed = append(parsed, "not disco")
			continue
		}
		hdr := len(disco.Magic) + 32
		clear, ok := shared.Open(p[hdr:])
		if !ok {
			parsed = append(parsed, "open failed")
			continue
		}
		m, err := disco.Parse(clear)
		if err != nil {
			parsed = append(parsed, "parse error: "+err.Error())
			continue
		}
		switch v := m.(type) {
		case *disco.Ping:
			parsed = append(parsed, fmt.Sprintf("ping tx=%x nodekey=%x padding=%d", v.TxID, v.NodeKey.Raw32(), v.Padding))
		case *disco.Pong:
			parsed = append(parsed, fmt.Sprintf("pong tx=%x src=%s", v.TxID, v.Src))
		case *disco.CallMeMaybe:
			parsed = append(parsed, fmt.Sprintf("cmm %v", v.MyNumber))
		default:
			parsed = append(parsed, disco.MessageSummary(m))
		}
	}
	out["parsed"] = parsed
	seal := func(m disco.Message) string {
		pub := priv.Public().Raw32()
		b := append([]byte(disco.Magic), pub[:]...)
		return hex.EncodeToString(append(b, shared.Seal(m.AppendMarshal(nil))...))
	}
	var tx [12]byte
	for i := range tx {
		tx[i] = byte(i + 1)
	}
	var nk [32]byte
	for i := range nk {
		nk[i] = byte(0xa0 + i)
	}
	out["ping"] = seal(&disco.Ping{TxID: tx, NodeKey: key.NodePublicFromRaw32(mem.B(nk[:])), Padding: 5})
	out["pong"] = seal(&disco.Pong{TxID: tx, Src: netip.MustParseAddrPort("127.3.3.40:901")})
	out["cmm"] = seal(&disco.CallMeMaybe{MyNumber: []netip.AddrPort{netip.MustParseAddrPort("[fd7a:115c:a1e0::1]:41641"), netip.MustParseAddrPort("192.168.1.2:3")}})
	json.NewEncoder(os.Stdout).Encode(out)
}
