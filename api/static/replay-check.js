// Follows a running replay check without reloading the page: every two seconds it fetches the
// page again and swaps in the progress; once the check has finished, it loads the page with the
// result. Without JavaScript the page's <noscript> refresh does the same.
(function () {
  "use strict";
  var check = document.getElementById("check");
  if (!check || check.getAttribute("data-state") !== "running" || !window.fetch) {
    return;
  }
  function poll() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var state = fresh.getElementById("check");
        if (!state) {
          return;
        }
        if (state.getAttribute("data-state") !== "running") {
          window.location.reload();
          return;
        }
        var progress = fresh.getElementById("progress");
        if (progress) {
          document.getElementById("progress").innerHTML = progress.innerHTML;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 2000);
})();
