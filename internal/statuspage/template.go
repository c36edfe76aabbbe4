package statuspage

import "html/template"

// style is shared by nothing else: the page carries its own few rules inline (the CSP allows
// inline style and nothing more).
const style = `
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--idle:#6e7781}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
header{padding:14px 24px;border-bottom:1px solid var(--line);background:var(--bg)}
h1{font-size:18px;margin:0 0 4px}
h2{font-size:15px;margin:22px 0 8px}
main{padding:0 24px 24px}
.meta{color:var(--muted);font-size:13px}
.meta b{color:var(--fg);font-weight:600}
.refusal{margin-top:6px;color:var(--bad);font-size:13px}
.summary{display:flex;gap:8px;flex-wrap:wrap;margin:14px 0 4px}
.chip{border:1px solid var(--line);border-radius:12px;padding:2px 10px;font-size:13px;background:#fff}
.chip.bad{border-color:var(--bad);color:var(--bad)}.chip.warn{border-color:var(--warn);color:var(--warn)}
form{display:flex;gap:6px;align-items:center;margin:10px 0}
input[type=search]{width:320px;padding:5px 8px;border:1px solid var(--line);border-radius:6px;font:inherit}
button{padding:5px 12px;border:1px solid var(--line);border-radius:6px;background:var(--bg);font:inherit;cursor:pointer}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
td.tok{white-space:normal;min-width:260px}
th{background:var(--bg);font-weight:600;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,.id{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.id{color:var(--muted)}
.badge{display:inline-block;min-width:58px;text-align:center;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.s-ok{background:var(--ok)}.s-failing{background:var(--bad)}.s-unused{background:var(--idle)}
tr.failing td{background:#fff5f5}
.hint{color:var(--muted);font-size:12px;margin-top:2px}
.err{color:var(--bad)}.high{color:var(--warn);font-weight:600}
a{color:#0969da}
nav.pages{display:flex;gap:14px;align-items:center;margin:10px 0;color:var(--muted)}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px}
footer{color:var(--muted);font-size:12px;padding:0 24px 18px}
`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>mdegate status</title>
<style>` + style + `</style>
</head>
<body>
<header>
<h1>mdegate status</h1>
<div class="meta" id="meta">version <b>{{.Version}}</b> · config <b>{{.ConfigFile}}</b> loaded {{.Loaded}}{{if .Uptime}} · up <b>{{.Uptime}}</b>{{end}} · reloads <b>{{.Reloads}}</b>{{if .Refused}}, refused <b>{{.Refused}}</b>{{end}}</div>
{{- if .LastRefusal}}
<div class="refusal" id="last-refusal">last refused reload{{if .LastRefusalAt}} ({{.LastRefusalAt}}){{end}}: {{.LastRefusal}}</div>
{{- end}}
</header>
<main>
<div class="summary">
<span class="chip" id="count-total">{{.Total}} tenants</span>
<span class="chip{{if .Failing}} bad{{end}}" id="count-failing">{{.Failing}} failing</span>
<span class="chip{{if .Erroring}} warn{{end}}" id="count-erroring">{{.Erroring}} with errors or 429s (5 min)</span>
<span class="chip" id="count-unused">{{.Unused}} unused</span>
</div>

<h2>Tenants</h2>
<form method="get" role="search">
<input type="search" name="q" value="{{.Query}}" placeholder="alias, tenant ID, region or state" aria-label="filter tenants">
<button type="submit">Filter</button>
{{- if .Query}} <a href="?" id="clear">clear</a>{{end}}
</form>
<nav class="pages" id="pages">
<span id="showing">{{if .Matched}}showing {{.First}}–{{.Last}} of {{.Matched}}{{else}}no tenant matches{{end}}{{if .Query}} matching “{{.Query}}”{{end}}</span>
{{- if gt .Pages 1}}
<span>{{if .PrevURL}}<a href="{{.PrevURL}}" id="prev">« previous</a>{{else}}« previous{{end}}</span>
<span id="page-of">page {{.Page}} of {{.Pages}}</span>
<span>{{if .NextURL}}<a href="{{.NextURL}}" id="next">next »</a>{{else}}next »{{end}}</span>
{{- end}}
</nav>
<table id="tenants">
<thead><tr><th>Alias</th><th>Tenant ID</th><th>Region</th><th>Token</th><th>Expires</th><th class="n">Calls 5m</th><th class="n">Errors 5m</th><th class="n">429s 5m</th><th>Busiest API quota</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr class="tenant {{.State}}" data-alias="{{.Alias}}" data-state="{{.State}}">
<td><b>{{.Alias}}</b></td>
<td class="id">{{.ID}}</td>
<td>{{.Region}}{{if .Picked}} → {{.Picked}}{{end}}</td>
<td class="tok"><span class="badge s-{{.State}}">{{.State}}</span>{{if .Code}} <code class="code">{{.Code}}</code>{{end}}
{{- if .Hint}}<div class="hint">{{.Hint}}</div>{{end}}
{{- if .ConsentURL}}<div class="hint"><a class="consent" href="{{.ConsentURL}}" rel="noreferrer">admin consent link</a></div>{{end}}</td>
<td>{{.Expiry}}</td>
<td class="n">{{.Calls}}</td>
<td class="n{{if .Errors}} err{{end}}">{{.Errors}}</td>
<td class="n{{if .Throttled}} err{{end}}">{{.Throttled}}</td>
<td>{{if .API}}{{.API}} <span class="{{if .QuotaHigh}}high{{end}}">{{.Quota}}</span>{{else}}—{{end}}</td>
</tr>
{{- end}}
</tbody>
</table>

<div class="cols">
<section>
<h2>Regions</h2>
<table id="regions">
<thead><tr><th>Region</th><th class="n">Round trip</th><th>Health</th></tr></thead>
<tbody>
{{- range .Regions}}
<tr data-region="{{.Name}}"><td>{{.Name}}</td><td class="n">{{.RTT}}</td><td>{{if .Healthy}}<span class="badge s-ok">healthy</span>{{else}}<span class="badge s-failing">cooling</span> {{.Health}}{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
<section>
<h2>Callers</h2>
<table id="callers">
<thead><tr><th>Caller</th><th class="n">In flight</th><th class="n">Refusals</th></tr></thead>
<tbody>
{{- range .Callers}}
<tr data-caller="{{.Name}}"><td>{{.Name}}</td><td class="n">{{.InFlight}}</td><td class="n{{if .Refusals}} err{{end}}">{{.Refusals}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
</div>
</main>
<footer>rendered {{.Now}} · refreshes every {{.Refresh}} s · no tokens, secrets or keys are shown on this page</footer>
</body>
</html>
`))
