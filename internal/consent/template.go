package consent

import "html/template"

// view is what the page shows; every field is escaped by html/template.
type view struct {
	Title string
	// Problem is a plain explanation when there is nothing else to show.
	Problem string

	Alias, Tenant                string
	EntraError, EntraDescription string

	Checked, Consented, Configured bool
	TokenError                     string
	Roles                          []roleRow
	Missing, Extra                 []string
	YAML                           string
	Next                           []string
}

type roleRow struct {
	Name    string
	Granted bool
}

var pageTemplate = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · Microsoft Defender for Endpoint onboarding</title>
<style>
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:720px;margin:40px auto;background:#fff;border:1px solid var(--line);border-radius:8px;padding:28px 32px}
.kicker{color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.04em}
h1{font-size:22px;margin:4px 0 16px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 18px}
dt{color:var(--muted)}dd{margin:0}
code,pre{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:12px 14px;overflow-x:auto}
.yes{color:var(--ok);font-weight:600}.no{color:var(--bad);font-weight:600}
.problem{border-left:4px solid var(--bad);padding:8px 14px;background:#fff5f5}
table{border-collapse:collapse;margin:6px 0 18px}
th,td{padding:4px 14px 4px 0;text-align:left;border-bottom:1px solid var(--line)}
h2{font-size:16px;margin:20px 0 6px}
ol{padding-left:20px}
footer{color:var(--muted);font-size:12px;text-align:center}
</style>
</head>
<body>
<main>
<div class="kicker">Microsoft Defender for Endpoint · partner onboarding</div>
<h1 id="title">{{.Title}}</h1>
{{- if .Problem}}
<p class="problem" id="problem">{{.Problem}}</p>
{{- end}}
{{- if or .Alias .Tenant}}
<dl id="facts">
{{- if .Alias}}<dt>Customer</dt><dd id="alias">{{.Alias}}</dd>{{end}}
{{- if .Tenant}}<dt>Tenant ID</dt><dd><code id="tenant">{{.Tenant}}</code></dd>{{end}}
{{- if .Checked}}<dt>Consented</dt><dd id="consented" data-consented="{{if .Consented}}yes{{else}}no{{end}}">{{if .Consented}}<span class="yes">yes</span>{{else}}<span class="no">no</span>{{end}}</dd>{{end}}
</dl>
{{- end}}
{{- if .EntraError}}
<div class="problem" id="entra-error"><b>Entra reported:</b> <code id="entra-code">{{.EntraError}}</code>{{if .EntraDescription}}<div id="entra-description">{{.EntraDescription}}</div>{{end}}</div>
{{- end}}
{{- if .TokenError}}
<p class="problem" id="token-error">{{.TokenError}}</p>
{{- end}}
{{- if .Roles}}
<h2>Roles</h2>
<table id="roles"><thead><tr><th>Expected role</th><th>Granted</th></tr></thead><tbody>
{{- range .Roles}}
<tr data-role="{{.Name}}" data-granted="{{if .Granted}}yes{{else}}no{{end}}"><td><code>{{.Name}}</code></td><td>{{if .Granted}}<span class="yes">yes</span>{{else}}<span class="no">missing</span>{{end}}</td></tr>
{{- end}}
</tbody></table>
{{- end}}
{{- if .Missing}}
<p id="missing">Missing: {{range $i, $r := .Missing}}{{if $i}}, {{end}}<code>{{$r}}</code>{{end}}</p>
{{- end}}
{{- if .Extra}}
<p id="extra">Also granted: {{range $i, $r := .Extra}}{{if $i}}, {{end}}<code>{{$r}}</code>{{end}}</p>
{{- end}}
{{- if .Next}}
<h2>What to do next</h2>
<ol id="next">
{{- range .Next}}
<li>{{.}}</li>
{{- end}}
</ol>
{{- end}}
{{- if .YAML}}
<pre id="yaml">{{.YAML}}</pre>
{{- end}}
</main>
<footer>This page shows only what concerns your own tenant.</footer>
</body>
</html>
`))
