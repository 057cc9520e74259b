"""The chat's stylesheet, and the small script for what happens in the browser only: showing a
citation's passage in the Sources panel (a drawer on phones), Copy as Markdown, the
conversation drawer on phones."""

CSS = """
.assay-header{display:flex;gap:.8em;align-items:baseline;padding:.1em 0 .3em}
.assay-logo{font-size:1.4em;font-weight:700;letter-spacing:.02em}
.assay-menu{display:none}
.assay-muted{color:var(--body-text-color-subdued);}
.assay-small{font-size:.85em}
.assay-noindex{padding:.8em 1em;border-radius:8px;background:var(--color-accent-soft);}
.assay-summary{font-size:.85em;color:var(--body-text-color-subdued);padding:0 .2em}
.assay-user{white-space:pre-wrap}
.assay-queued{opacity:.75}
.assay-queued-tag{display:inline-block;font-size:.72em;font-weight:600;text-transform:uppercase;letter-spacing:.04em;padding:.05em .5em;margin-bottom:.25em;
  border-radius:.6em;border:1px dashed var(--border-color-primary);color:var(--body-text-color-subdued)}
.assay-answer .assay-text{line-height:1.6}
.assay-answer .assay-text p.assay-para{margin:0 0 .5em 0}
.assay-answer ul.assay-items{margin:.2em 0 .6em 0;padding-left:1.3em;list-style:disc}
.assay-answer ul.assay-items li{margin:.2em 0;padding-left:.1em}
.assay-note{margin:.5em 0 .3em;padding:.45em .7em;border-left:4px solid #d97706;border-radius:4px;background:rgba(217,119,6,.09);
  font-style:italic;color:var(--body-text-color)}
.assay-note-icon{font-style:normal;color:#b45309;font-weight:700;margin-right:.3em;display:inline-block;width:1.15em;height:1.15em;line-height:1.1em;text-align:center;border:1.5px solid #b45309;border-radius:50%;font-size:.8em;vertical-align:.15em}
.assay-status{display:inline-block;font-size:.75em;font-weight:600;color:#92400e;background:rgba(217,119,6,.12);border-radius:.6em;padding:.1em .6em;margin-bottom:.35em}
.assay-cite{display:inline-block;min-width:1.5em;margin:0 .15em;padding:0 .35em;border-radius:.6em;border:1px solid var(--color-accent);
  background:var(--color-accent-soft);color:var(--body-text-color);font-size:.75em;font-weight:600;line-height:1.5;vertical-align:super;cursor:pointer}
.assay-cite:hover,.assay-cite.assay-active{background:var(--color-accent);color:white}
.assay-query{font-size:.8em;color:var(--body-text-color-subdued);margin-bottom:.35em}
.assay-sources-title{font-size:.8em;font-weight:600;text-transform:uppercase;letter-spacing:.04em;margin-top:.7em;color:var(--body-text-color-subdued)}
ol.assay-sources-list,ul.assay-related{margin:.2em 0 0 0;padding-left:0;list-style:none;font-size:.88em}
ol.assay-sources-list li{margin:.15em 0}
ol.assay-sources-list .assay-cite{vertical-align:baseline}
.assay-li-title{font-weight:500}
.assay-footer{font-size:.72em;color:var(--body-text-color-subdued);margin-top:.5em;display:inline-block}
.assay-actions{display:inline-block;margin-left:.8em}
.assay-copy{font-size:.75em;padding:.05em .6em;border-radius:.5em;border:1px solid var(--border-color-primary);background:var(--background-fill-primary);cursor:pointer;color:var(--body-text-color-subdued)}
.assay-copy:hover{color:var(--body-text-color);border-color:var(--color-accent)}
.assay-abstain{border-left:4px solid var(--border-color-primary);padding-left:.8em;color:var(--body-text-color-subdued)}
.assay-abstain-head{font-weight:600;font-style:italic;margin-bottom:.2em}
.assay-related li{margin:.4em 0}
.assay-related-text{font-size:.9em;opacity:.85}
.assay-unsupported{text-decoration:underline wavy #d97706;}
.assay-flags{margin-top:.5em;padding:.4em .6em;border-radius:6px;background:#fef3c7;color:#78350f;font-size:.85em}
.assay-error .assay-text{color:#b91c1c}
.assay-streaming .assay-text{opacity:.85}
ol.assay-steps{list-style:none;margin:0;padding:0;font-size:.88em}
ol.assay-steps li{margin:.15em 0}
.assay-step-mark{display:inline-block;width:1.2em;color:var(--color-accent)}
.assay-step-log{margin-left:1.3em;font-size:.9em;color:var(--body-text-color-subdued)}
/* one set of feedback/retry buttons per answer: none under the step message */
#assay-chat .message:has(.thought-group) + .message-buttons-left,
#assay-chat .message:has(.thought-group) + .message-buttons{display:none}
.assay-panel{padding:.3em .2em}
.assay-panel-head{display:flex;justify-content:space-between;align-items:center}
.assay-panel-title{font-weight:700;font-size:1.1em;margin-bottom:.4em}
.assay-panel-close{display:none;font-size:1.4em;line-height:1;border:none;background:none;cursor:pointer;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-src-n{font-size:.8em;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-src-title{margin:.1em 0 .2em;font-size:1.05em}
#assay-panel-body .assay-src-meta{font-size:.85em;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-passage{margin:.6em 0;padding:.6em .8em;border-left:3px solid var(--color-accent);white-space:pre-wrap;line-height:1.55;font-size:.92em}
#assay-panel-body mark{background:#fde68a;color:#111;padding:0 .1em;border-radius:2px}
#assay-panel-body .assay-src-id,#assay-panel-body .assay-src-q{font-size:.75em;color:var(--body-text-color-subdued)}
#assay-sources{position:sticky;top:.5em;max-height:calc(100vh - 1em);overflow-y:auto}
.assay-convs ul{list-style:none;margin:0;padding:0}
.assay-conv{display:block;width:100%;text-align:left;border:none;background:none;padding:.4em .5em;border-radius:6px;cursor:pointer;color:var(--body-text-color)}
.assay-conv:hover{background:var(--background-fill-secondary)}
.assay-conv-open{background:var(--color-accent-soft)}
.assay-conv-title{display:block;font-size:.9em;font-weight:500;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.assay-conv-meta{display:block;font-size:.72em;color:var(--body-text-color-subdued)}
#assay-side .assay-side-title{font-weight:700;font-size:.95em;margin:.2em 0}
#assay-convlist{max-height:420px;overflow-y:auto}
#assay-inputbar{background:var(--background-fill-primary);border:none;box-shadow:none;gap:0}
#assay-inputrow{background:var(--background-fill-primary);align-items:stretch}
#assay-inputrow button{white-space:nowrap}
#assay-hint{font-size:.78em;color:var(--body-text-color-subdued);padding:0 .6em .3em}
#assay-hint:not(:has(.assay-hint)),#assay-bundled-status:not(:has(.assay-upload-status)),#assay-lib-status:not(:has(.assay-upload-status)){display:none}
.assay-table{width:100%;border-collapse:collapse;font-size:.9em}
.assay-table th,.assay-table td{text-align:left;padding:.35em .5em;border-bottom:1px solid var(--border-color-primary);vertical-align:top}
.assay-num{text-align:right}
.assay-table td:nth-child(2){white-space:nowrap}
.assay-upload-tag{display:inline-block;font-size:.78em;font-weight:600;color:#92400e;background:#fef3c7;border-radius:4px;padding:0 .4em;margin-left:.3em}
.assay-open{border:none;background:none;padding:0;text-align:left;font:inherit;font-weight:500;color:var(--color-accent);cursor:pointer}
.assay-open:hover{text-decoration:underline}
.assay-open-current{text-decoration:underline}
.assay-lib-link{text-decoration:none}
.assay-restore{font-size:.8em;margin-left:.4em;cursor:pointer}
.assay-deleted{margin-top:.8em;font-size:.9em}
.assay-deleted li{margin:.25em 0}
.assay-confirm{padding:.5em .7em;border-radius:6px;background:#fee2e2;color:#7f1d1d}
.assay-article{margin-top:.4em}
.assay-article-title{margin:.2em 0}
.assay-article-legend{margin:.4em 0}
.assay-article-text{white-space:pre-wrap;line-height:1.6;font-size:.92em;max-height:70vh;overflow-y:auto;padding:.6em .8em;border:1px solid var(--border-color-primary);border-radius:6px}
.assay-chunk-1{background:rgba(59,130,246,.10)}
.assay-chunk-0{background:rgba(16,185,129,.10)}
.assay-chunk-overlap{background:rgba(245,158,11,.25)}
.assay-unindexed{color:var(--body-text-color-subdued)}
.assay-chunk-n{display:inline-block;font-size:.7em;font-weight:700;color:var(--color-accent);margin:0 .25em;vertical-align:super;white-space:nowrap}
.assay-upload-status ul{list-style:none;padding-left:0}
.assay-upload-status .assay-err{color:#b91c1c}
.assay-upload-status .assay-ok{color:#15803d}
.assay-progress{height:6px;background:var(--border-color-primary);border-radius:3px;overflow:hidden;margin:.3em 0}
.assay-progress div{height:100%;background:var(--color-accent)}

/* phones: a compact header, the input pinned at the bottom, conversations and sources as drawers */
@media (max-width: 720px){
  .assay-header{padding:0;gap:.5em;align-items:center}
  .assay-logo{font-size:1.1em}
  .assay-tagline{display:none}
  .assay-menu{display:inline-block;font-size:1.15em;line-height:1;padding:.15em .45em;border-radius:6px;border:1px solid var(--border-color-primary);background:none;cursor:pointer;color:var(--body-text-color)}
  #assay-chat{height:calc(100dvh - 245px) !important;min-height:280px}
  #assay-inputbar{position:fixed;left:0;right:0;bottom:0;z-index:900;margin:0 !important;padding:6px 8px calc(6px + env(safe-area-inset-bottom));
    background:var(--background-fill-primary);border-top:1px solid var(--border-color-primary);box-shadow:0 -2px 10px rgba(0,0,0,.08);border-radius:0 !important}
  #assay-inputrow{flex-wrap:nowrap !important;gap:6px}
  #assay-inputrow > *{min-width:0 !important}
  #assay-inputrow button{min-width:60px !important;padding-left:.4em !important;padding-right:.4em !important;white-space:normal !important;line-height:1.15 !important}
  #assay-side{position:fixed !important;top:0;left:0;bottom:0;width:86vw !important;max-width:340px;z-index:1000;background:var(--background-fill-primary);
    padding:12px !important;overflow-y:auto;transform:translateX(-105%);transition:transform .2s ease;box-shadow:2px 0 14px rgba(0,0,0,.18)}
  #assay-chatrow.assay-side-open #assay-side{transform:none}
  #assay-sources-col{position:fixed !important;left:0;right:0;bottom:0;z-index:1001;max-height:78vh;min-width:0 !important;background:var(--background-fill-primary);
    border-radius:14px 14px 0 0;box-shadow:0 -4px 18px rgba(0,0,0,.2);padding:10px 14px !important;overflow-y:auto;transform:translateY(105%);transition:transform .2s ease}
  #assay-chatrow.assay-src-open #assay-sources-col{transform:none}
  #assay-sources{position:static;max-height:none}
  .assay-panel-close{display:inline-block}
  .tab-wrapper{margin-bottom:2px}
}
"""

# Citation clicks: copy the hidden passage block of the clicked [n] into the Sources panel (on a
# phone the panel is a drawer: it opens). Copy: the answer's Markdown (text with [n] markers and a
# numbered source list) to the clipboard. The ☰ button opens the conversations drawer on phones.
HEAD = """
<style>
/* outside Gradio's scoped stylesheet: the page itself on phones (room for the pinned input) */
@media (max-width: 720px){ .gradio-container{padding:4px 6px 130px !important} }
</style>
<script>
(function () {
  function num(el) { var m = (el.getAttribute("class") || "").match(/assay-n-(\\d+)/); return m ? m[1] : null; }
  function phone() { return window.matchMedia("(max-width: 720px)").matches; }
  function row() { return document.getElementById("assay-chatrow") || document.body; }
  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var t = document.createElement("textarea");
    t.value = text; t.style.position = "fixed"; t.style.left = "-9999px";
    document.body.appendChild(t); t.select();
    try { document.execCommand("copy"); } catch (e) {}
    t.remove();
  }
  // The question is what the box held when Enter was pressed or Ask clicked: Gradio reads the
  // box a moment later, and text typed meanwhile (the next question) must not replace it.
  function take() {
    var box = document.querySelector("#assay-question textarea");
    if (box) window.__assayTaken = box.value;
  }
  document.addEventListener("keypress", function (ev) {  // the event Gradio's box submits on
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.target && ev.target.closest && ev.target.closest("#assay-question")) take();
  }, true);
  document.addEventListener("pointerdown", function (ev) {
    if (ev.target && ev.target.closest && ev.target.closest("#assay-ask")) take();
  }, true);
  document.addEventListener("click", function (ev) {
    var el = ev.target && ev.target.closest ? ev.target : null;
    if (!el) return;
    var copy = el.closest(".assay-copy");
    if (copy) {
      ev.preventDefault(); ev.stopPropagation();
      var ans = copy.closest(".assay-answer"), md = ans ? ans.querySelector(".assay-md") : null;
      if (!md) return;
      copyText(md.textContent, function () {
        copy.textContent = "Copied ✓";
        setTimeout(function () { copy.textContent = "Copy"; }, 1800);
      });
      return;
    }
    if (el.closest(".assay-menu")) { row().classList.toggle("assay-side-open"); return; }
    if (el.closest(".assay-conv") && phone()) { row().classList.remove("assay-side-open"); }
    if (el.closest(".assay-panel-close")) { row().classList.remove("assay-src-open"); return; }
    if (phone() && row().classList.contains("assay-side-open") && !el.closest("#assay-side")) {
      row().classList.remove("assay-side-open");
    }
    var t = el.closest(".assay-cite");
    if (!t) return;
    ev.preventDefault();
    ev.stopPropagation();
    var n = num(t), ans2 = t.closest(".assay-answer"), body = document.getElementById("assay-panel-body");
    if (!n || !ans2 || !body) return;
    var src = ans2.querySelector(".assay-src.assay-n-" + n);
    if (!src) return;
    body.replaceChildren.apply(body, Array.prototype.map.call(src.childNodes, function (c) { return c.cloneNode(true); }));
    document.querySelectorAll(".assay-cite.assay-active").forEach(function (e) { e.classList.remove("assay-active"); });
    ans2.querySelectorAll(".assay-cite.assay-n-" + n).forEach(function (e) { e.classList.add("assay-active"); });
    if (phone()) row().classList.add("assay-src-open");
    var mark = body.querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "nearest" });
  }, true);
})();
</script>
"""

# The conversation list and the library table are gr.HTML: a click on one of their buttons is
# sent to Python as a select event whose value names the conversation or the article.
CONV_JS = """
element.addEventListener('click', function (e) {
  var b = e.target.closest('button.assay-conv');
  if (b) trigger('select', {index: 0, value: b.value});
});
"""

LIBRARY_JS = """
element.addEventListener('click', function (e) {
  var b = e.target.closest('button.assay-open');
  if (b) { trigger('select', {index: 0, value: 'open:' + b.value}); return; }
  var r = e.target.closest('button.assay-restore');
  if (r) trigger('select', {index: 1, value: 'restore:' + r.value});
});
"""

# Sending a question empties the box in the browser, at once: the server never sends "" back,
# so nothing typed after pressing Enter (the next question) can be wiped by a late reply.
TAKE_QUESTION = """
(question, session) => {
  const box = document.querySelector('#assay-question textarea');
  const taken = window.__assayTaken;
  window.__assayTaken = undefined;
  const q = (typeof taken === 'string' && taken.trim()) ? taken : question;
  if (box && q && q.trim() && box.value === q) {  // text typed since stays: it is the next question
    box.value = '';
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }
  return [q, session];
}
"""

FOCUS_QUESTION = """() => { setTimeout(() => { const b = document.querySelector('#assay-question textarea'); if (b && window.innerWidth > 720) b.focus(); }, 50); }"""
