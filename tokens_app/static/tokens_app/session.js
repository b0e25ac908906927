/* The session, as the open pages see it. No dependencies; the site works without it.
 *
 * 1. A notice before a time limit ends the session (body data-tokens-ends, from
 *    the verified refresh token): "Stay signed in" where a refresh extends it (an
 *    idle limit), else "save your work" (the maximum lifetime cannot be extended).
 * 2. Every page tells the other open tabs of this browser who is signed in
 *    (BroadcastChannel): a tab still showing a signed-in page learns of a sign-out
 *    made elsewhere, and of a "Stay signed in" or a refresh there (new deadline).
 * 3. On submit, a form names its password inputs (_tokens_unkept), so a form
 *    kept across a sign-in (kept.py) never keeps them, whatever they are called.
 */
(function () {
  "use strict";
  var body = document.body;
  var data = body.dataset;
  // A page rendered without knowing who is signed in must not tell the other tabs "nobody".
  if (!("tokensKnown" in data)) return;
  var user = data.tokensUser || "";
  var channel = "BroadcastChannel" in window ? new BroadcastChannel("tokens_app.session") : null;
  var notice = document.getElementById("tokens-session-notice");
  var tabsNotice = document.getElementById("tokens-tabs-notice");
  // The server's clock minus ours, so a wrong clock does not move the warning.
  var skew = data.tokensNow ? Number(data.tokensNow) - Date.now() / 1000 : 0;
  var ends = data.tokensEnds ? Number(data.tokensEnds) : null;
  var extendable = "tokensExtendable" in data;
  var warn = Number(data.tokensWarn || 120);
  var timer = null;

  function serverNow() { return Date.now() / 1000 + skew; }

  function clock(unix) {
    return new Date((unix - skew) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function show(box, text, withButton) {
    box.querySelector(".session-notice-text").textContent = text;
    var button = box.querySelector("form");
    if (button) button.hidden = !withButton;
    box.hidden = false;
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    if (!notice || ends === null) return;
    var left = ends - serverNow();
    if (left <= 0) return ended();
    if (left > warn) {
      notice.hidden = true;
      timer = setTimeout(schedule, Math.min(left - warn, 2147483) * 1000);
      return;
    }
    var minutes = Math.max(1, Math.round(left / 60));
    var when = clock(ends) + " (in about " + minutes + (minutes === 1 ? " minute)" : " minutes)");
    if (extendable) {
      show(notice, "You will be signed out at " + when + " because the page has not been used. Stay signed in?", true);
    } else {
      show(notice, "Your session reaches its maximum length at " + when + ". Save your work: you will need to sign in again.", false);
      notice.querySelector("a").hidden = false;
    }
    timer = setTimeout(schedule, left * 1000 + 500);
  }

  function ended() {
    show(notice, "Your session has ended. Sign in again; a form you send now is kept for you until you do.", false);
    notice.querySelector("a").hidden = false;
  }

  function announce() {
    if (channel) channel.postMessage({ user: user, ends: ends, extendable: extendable });
  }

  function staySignedIn(event) {
    event.preventDefault();
    var form = event.target;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!answer.signed_in) return ended();
        ends = answer.ends;
        extendable = !answer.session_end || answer.ends < answer.session_end;
        notice.hidden = true;
        schedule();
        announce();
      });
    }).catch(function () { form.submit(); });
  }

  function heard(event) {
    var other = event.data || {};
    if (!user) return;
    if (other.user !== user) {
      show(tabsNotice, other.user
        ? "You are now signed in as " + other.user + " in another tab. Reload this page to go on as " + other.user + "."
        : "You signed out in another tab. This page is no longer signed in.", false);
      body.classList.add("tokens-signed-out");
      if (notice) notice.hidden = true;
      if (timer) clearTimeout(timer);
      ends = null;
    } else if (other.ends && ends !== null && other.ends !== ends) {
      // Another tab refreshed ("Stay signed in", or a page load): its deadline is ours.
      ends = other.ends;
      extendable = other.extendable;
      schedule();
    }
  }

  function markPasswords(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.method || "").toLowerCase() !== "post") return;
    var names = [];
    form.querySelectorAll("input[type=password]").forEach(function (input) { if (input.name) names.push(input.name); });
    if (!names.length || form.elements._tokens_unkept) return;
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "_tokens_unkept";
    field.value = names.join(",");
    form.appendChild(field);
  }

  if (notice) {
    var extendForm = notice.querySelector("form");
    if (extendForm) extendForm.addEventListener("submit", staySignedIn);
  }
  if (channel) channel.onmessage = heard;
  document.addEventListener("submit", markPasswords, true);
  schedule();
  announce();
  // A page restored from the back/forward cache speaks again, as a new load would.
  window.addEventListener("pageshow", function (event) { if (event.persisted) announce(); });
})();
