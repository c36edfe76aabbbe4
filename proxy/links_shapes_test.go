package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// linkShapes are answers in the shapes MDE, Defender XDR and Graph security send, each with
// its links on Microsoft API hosts. They are the table of TestLinkShapes and the seed corpus
// of FuzzLinkRewrite.
var linkShapes = []struct{ name, in string }{
	{"MDE list with @odata.count before nextLink",
		`{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#Machines","@odata.count":2,"value":[{"id":"m1"},{"id":"m2"}],"@odata.nextLink":"https://api.securitycenter.microsoft.com/api/machines?$skip=2"}`},
	{"MDE list, count after the value",
		`{"@odata.context":"https://api.security.microsoft.com/api/$metadata#Alerts","value":[],"@odata.count":0,"@odata.nextLink":"https://api-us.security.microsoft.com/api/alerts?$skip=10"}`},
	{"XDR incidents with per-item @odata.type and etag",
		`{"@odata.context":"https://api.security.microsoft.com/api/$metadata#Incidents","value":[{"@odata.type":"#Incident","@odata.etag":"W/\"1\"","incidentId":7,"alerts":[{"@odata.type":"#Alert"}]}],"@odata.nextLink":"https://api-eu.security.microsoft.com/api/incidents?$skip=10"}`},
	{"Graph alerts_v2 with @odata.type in every item",
		`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2","@odata.count":2,"value":[{"@odata.type":"#microsoft.graph.security.alert","id":"a"},{"@odata.type":"#microsoft.graph.security.alert","evidence":[{"@odata.type":"#microsoft.graph.security.deviceEvidence","@odata.id":"https://graph.microsoft.com/v1.0/x"}]}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/security/alerts_v2?$skiptoken=abc%3D"}`},
	{"Graph beta incidents in GCC High",
		`{"@odata.context":"https://graph.microsoft.us/beta/$metadata#security/incidents","value":[{"@odata.type":"#microsoft.graph.security.incident"}],"@odata.nextLink":"https://graph.microsoft.us/beta/security/incidents?$skip=50"}`},
	{"Graph DoD with a delta link",
		`{"@odata.context":"https://dod-graph.microsoft.us/v1.0/$metadata#security/alerts_v2","value":[{"@odata.type":"#microsoft.graph.security.alert"}],"@odata.deltaLink":"https://dod-graph.microsoft.us/v1.0/security/alerts_v2?$deltatoken=d"}`},
	{"Graph hunting results, context only",
		`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults","schema":[{"name":"DeviceId","type":"String"}],"results":[{"DeviceId":"x"}]}`},
	{"a context on a foreign host before the nextLink",
		`{"@odata.context":"https://example.com/$metadata#Machines","value":[],"@odata.nextLink":"https://api.securitycenter.microsoft.com/api/machines?$skip=1"}`},
	{"an escaped \"@odata. inside a value before the nextLink",
		`{"value":[{"title":"x \"@odata.count\":3 \"@odata.nextLink\" y","t":"\\"}],"@odata.nextLink":"https://api.security.microsoft.com/api/alerts?$skip=1"}`},
	{"sovereign XDR and legacy US government hosts",
		`{"@odata.context":"https://api-gcc.security.microsoft.us/api/$metadata#Incidents","a":{"@odata.type":"#x","@odata.nextLink":"https://api-gov.security.microsoft.us/api/incidents?$skip=1"},"b":{"@odata.count":1,"@odata.nextLink":"https://api.securitycenter.windows.us/api/machines?$skip=1"},"c":{"@odata.nextLink":"https://API-GCC.SECURITYCENTER.MICROSOFT.US:443/api/x"}}`},
	{"export with SAS links and a count",
		`{"@odata.context":"https://api.security.microsoft.com/api/$metadata#Collection(Edm.String)","@odata.count":1,"exportFiles":["https://mdeexport.blob.core.windows.net/x/f.gz?sig=SECRET"],"generatedTime":"2026-01-01T00:00:00Z"}`},
	{"indented, nextLink last after items",
		"{\n  \"@odata.context\" : \"https://api.security.microsoft.com/api/$metadata#Machines\",\n  \"value\" : [\n    {\n      \"@odata.type\" : \"#Machine\"\n    }\n  ],\n  \"@odata.count\" : 1,\n  \"@odata.nextLink\" : \"https://eu.api.security.microsoft.com/api/machines?$skip=1\"\n}"},
}

// linkKeys are the keys whose values the rewriter moves to the gateway.
var linkKeys = map[string]bool{"@odata.nextLink": true, "@odata.context": true, "@odata.deltaLink": true}

// links collects the values of the link keys anywhere in a decoded JSON document.
func links(v any, out *[]any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if linkKeys[k] {
				*out = append(*out, e)
			}
			links(e, out)
		}
	case []any:
		for _, e := range v {
			links(e, out)
		}
	}
}

// urlHost returns the host of an https URL, or false.
func urlHost(s string) (string, bool) {
	if len(s) < len(httpsScheme) || !strings.EqualFold(s[:len(httpsScheme)], httpsScheme) {
		return "", false
	}
	rest := s[len(httpsScheme):]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}

// checkNoMicrosoftLink fails when a link in the JSON document out still points at a Microsoft
// API host, or when out is no longer JSON.
func checkNoMicrosoftLink(t *testing.T, l *linkRewriter, in, out string) {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("the rewritten answer is not JSON (%v):\n in %s\nout %s", err, in, out)
	}
	var got []any
	links(doc, &got)
	for _, v := range got {
		s, _ := v.(string)
		if h, ok := urlHost(s); ok && l.isMDEHost([]byte(h)) {
			t.Fatalf("a link still points at Microsoft: %s\n in %s\nout %s", s, in, out)
		}
	}
}

// Regression test for issue 14 (5): any "@odata. key that was no link (@odata.count,
// @odata.type, a context on a foreign host, an escaped \"@odata.) ended the scan of its read,
// and the nextLink after it went out pointing at Microsoft. Also issue 17 (4): every
// Microsoft API host family is rewritten, blob storage never.
func TestLinkShapes(t *testing.T) {
	l := testRewriter(t)
	for _, tt := range linkShapes {
		t.Run(tt.name, func(t *testing.T) {
			for _, bufSize := range []int{copyBufferSize, 1} {
				for _, src := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
					out := rewriteWith(t, l, src, bufSize)
					checkNoMicrosoftLink(t, l, tt.in, out)
					if strings.Contains(tt.in, "blob.core.windows.net") && !strings.Contains(out, "https://mdeexport.blob.core.windows.net/x/f.gz?sig=SECRET") {
						t.Fatalf("a SAS link was changed: %s", out)
					}
					if strings.Contains(tt.in, "https://example.com/$metadata#Machines") && !strings.Contains(out, "https://example.com/$metadata#Machines") {
						t.Fatalf("a foreign host was changed: %s", out)
					}
					if n := strings.Count(out, testBase); n == 0 {
						t.Fatalf("nothing was rewritten: %s", out)
					}
				}
			}
		})
	}
}

// FuzzLinkRewrite asserts that no Microsoft API host survives in a rewritten answer whose
// links were all on Microsoft hosts (issue 14 (5)), however the answer is split into reads.
// The input is any JSON document; it is encoded as Go encodes (compact or indented, slashes
// unescaped, as Microsoft's services write them) before the rewrite, since the rewriter reads
// keys and hosts as written, not \u-escaped ones.
func FuzzLinkRewrite(f *testing.F) {
	for i, s := range linkShapes {
		f.Add([]byte(s.in), uint8(i), i%2 == 0)
	}
	l := testRewriter(f)
	f.Fuzz(func(t *testing.T, in []byte, split uint8, indent bool) {
		var doc any
		if json.Unmarshal(in, &doc) != nil {
			return
		}
		var found []any
		links(doc, &found)
		for _, v := range found {
			s, ok := v.(string)
			if !ok {
				return
			}
			if h, ok := urlHost(s); !ok || !l.isMDEHost([]byte(h)) {
				return // a link elsewhere: not this property's input
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if indent {
			enc.SetIndent("", "  ")
		}
		if enc.Encode(doc) != nil {
			return
		}
		src := buf.String()
		sizes := []int{int(split%97) + 1, int(split%13) + 1, int(split) + 1}
		out := rewriteWith(t, l, &splitReader{data: []byte(src), sizes: sizes}, copyBufferSize)
		checkNoMicrosoftLink(t, l, src, out)
		if out2 := rewriteWith(t, l, iotest.OneByteReader(strings.NewReader(src)), 1); out2 != out {
			t.Fatalf("one byte at a time differs:\n got %s\nwant %s", out2, out)
		}
	})
}
