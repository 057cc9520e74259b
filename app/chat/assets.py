"""The chat's stylesheet and the small script that shows a citation's passage in the Sources panel."""

CSS = """
.assay-header{display:flex;gap:.8em;align-items:baseline;padding:.2em 0 .4em}
.assay-logo{font-size:1.5em;font-weight:700;letter-spacing:.02em}
.assay-muted{color:var(--body-text-color-subdued);}
.assay-small{font-size:.85em}
.assay-noindex{padding:.8em 1em;border-radius:8px;background:var(--color-accent-soft);}
.assay-user{white-space:pre-wrap}
.assay-answer .assay-text{line-height:1.6}
.assay-cite{display:inline-block;min-width:1.5em;margin:0 .15em;padding:0 .35em;border-radius:.6em;border:1px solid var(--color-accent);
  background:var(--color-accent-soft);color:var(--body-text-color);font-size:.75em;font-weight:600;line-height:1.5;vertical-align:super;cursor:pointer}
.assay-cite:hover,.assay-cite.assay-active{background:var(--color-accent);color:white}
.assay-query{font-size:.8em;color:var(--body-text-color-subdued);margin-bottom:.35em}
.assay-sources-title{font-size:.8em;font-weight:600;text-transform:uppercase;letter-spacing:.04em;margin-top:.7em;color:var(--body-text-color-subdued)}
ol.assay-sources-list,ul.assay-related{margin:.2em 0 0 0;padding-left:0;list-style:none;font-size:.88em}
ol.assay-sources-list li{margin:.15em 0}
ol.assay-sources-list .assay-cite{vertical-align:baseline}
.assay-li-title{font-weight:500}
.assay-footer{font-size:.72em;color:var(--body-text-color-subdued);margin-top:.5em}
.assay-abstain{border-left:4px solid var(--border-color-primary);padding-left:.8em;color:var(--body-text-color-subdued)}
.assay-abstain-head{font-weight:600;font-style:italic;margin-bottom:.2em}
.assay-related li{margin:.4em 0}
.assay-related-text{font-size:.9em;opacity:.85}
.assay-unsupported{text-decoration:underline wavy #d97706;}
.assay-flags{margin-top:.5em;padding:.4em .6em;border-radius:6px;background:#fef3c7;color:#78350f;font-size:.85em}
.assay-error .assay-text{color:#b91c1c}
.assay-streaming .assay-text{opacity:.8}
.assay-panel{padding:.3em .2em}
.assay-panel-title{font-weight:700;font-size:1.1em;margin-bottom:.4em}
#assay-panel-body .assay-src-n{font-size:.8em;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-src-title{margin:.1em 0 .2em;font-size:1.05em}
#assay-panel-body .assay-src-meta{font-size:.85em;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-passage{margin:.6em 0;padding:.6em .8em;border-left:3px solid var(--color-accent);white-space:pre-wrap;line-height:1.55;font-size:.92em}
#assay-panel-body mark{background:#fde68a;color:#111;padding:0 .1em;border-radius:2px}
#assay-panel-body .assay-src-id{font-size:.75em;color:var(--body-text-color-subdued)}
.assay-table{width:100%;border-collapse:collapse;font-size:.9em}
.assay-table th,.assay-table td{text-align:left;padding:.35em .5em;border-bottom:1px solid var(--border-color-primary);vertical-align:top}
.assay-num{text-align:right}
.assay-table td:nth-child(2){white-space:nowrap}
.assay-upload-status ul{list-style:none;padding-left:0}
.assay-upload-status .assay-err{color:#b91c1c}
.assay-upload-status .assay-ok{color:#15803d}
.assay-progress{height:6px;background:var(--border-color-primary);border-radius:3px;overflow:hidden;margin:.3em 0}
.assay-progress div{height:100%;background:var(--color-accent)}
"""

# Citation clicks: copy the hidden passage block of the clicked [n] into the Sources panel.
HEAD = """
<script>
(function () {
  function num(el) { var m = (el.getAttribute("class") || "").match(/assay-n-(\\d+)/); return m ? m[1] : null; }
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest(".assay-cite") : null;
    if (!t) return;
    ev.preventDefault();
    ev.stopPropagation();
    var n = num(t), ans = t.closest(".assay-answer"), body = document.getElementById("assay-panel-body");
    if (!n || !ans || !body) return;
    var src = ans.querySelector(".assay-src.assay-n-" + n);
    if (!src) return;
    body.replaceChildren.apply(body, Array.prototype.map.call(src.childNodes, function (c) { return c.cloneNode(true); }));
    document.querySelectorAll(".assay-cite.assay-active").forEach(function (e) { e.classList.remove("assay-active"); });
    ans.querySelectorAll(".assay-cite.assay-n-" + n).forEach(function (e) { e.classList.add("assay-active"); });
    var panel = document.getElementById("assay-sources");
    if (panel && window.innerWidth < 900) panel.scrollIntoView({ behavior: "smooth", block: "start" });
    var mark = body.querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "nearest" });
  }, true);
})();
</script>
"""
