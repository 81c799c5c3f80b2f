// sessionhub UI: a small enhancement over plain forms (everything works without it).
// - [data-confirm]: ask before a destructive action; [data-post] links then POST
//   the same form their confirmation page would (CSRF token from the page).
// - #live: follow the session's changes over SSE and refresh the transcript in place.
//   The stream's ids are event seqs, so a reconnect resumes after the last one
//   seen (Last-Event-ID) and a refresh is idempotent: nothing shows twice.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function post(url, fields) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = url;
  for (const [name, value] of Object.entries({ csrf: csrf(), ...fields })) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}

document.addEventListener("click", (event) => {
  const el = event.target.closest?.("[data-confirm]");
  if (!el) return;
  if (!window.confirm(el.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (el.dataset.post) {
    event.preventDefault();
    const fields = el.dataset.field ? { [el.dataset.field]: el.dataset.value ?? "" } : {};
    post(el.dataset.post, fields);
  }
});

// A refresh replaces the transcript: keep the keyboard focus on the same control.
function restoreFocus(live, name) {
  for (const el of live.querySelectorAll("a, button")) {
    if ((el.getAttribute("aria-label") ?? el.textContent) === name) {
      el.focus();
      return;
    }
  }
}

function follow(live) {
  const id = live.dataset.session;
  const base = `/ui/sessions/${encodeURIComponent(id)}`;
  let last = Number(live.querySelector(".state")?.dataset.lastSeq ?? 0);
  let busy = false;
  let again = false;
  let poll = null;

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const answer = await fetch(`${base}/live-fragment`, { headers: { Accept: "text/html" } });
      if (answer.ok) {
        const html = await answer.text();
        const focused = live.contains(document.activeElement)
          ? document.activeElement.getAttribute("aria-label") ?? document.activeElement.textContent
          : null;
        live.innerHTML = html;
        live.dataset.refreshed = String(last);
        if (focused) restoreFocus(live, focused);
      }
    } catch {
      // offline for a moment: the next change or poll tries again
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
    // A run's end changes the status without an event: look again while it runs.
    clearTimeout(poll);
    if (live.querySelector(".state")?.dataset.status === "running") {
      poll = setTimeout(refresh, 1500);
    }
  }

  const stream = new EventSource(`${base}/live?since=${last}`);
  const said = document.getElementById("live-status");
  stream.addEventListener("change", (event) => {
    const seq = Number(event.lastEventId);
    if (seq <= last) return;
    last = seq;
    if (said) said.textContent = `New event #${seq}: ${event.data}`;
    refresh();
  });
  stream.addEventListener("gone", () => stream.close());
  window.addEventListener("pagehide", () => stream.close());
  if (live.querySelector(".state")?.dataset.status === "running") {
    poll = setTimeout(refresh, 1500);
  }
}

const live = document.getElementById("live");
if (live) follow(live);
