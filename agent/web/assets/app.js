// Bay screen: live parts of the page follow the server's event stream;
// the report's print button. Everything works without this script.
(function () {
  var live = document.getElementById("live");
  if (live && live.dataset.feed && window.EventSource) {
    var es = new EventSource(live.dataset.feed);
    es.addEventListener("update", function (e) {
      live.innerHTML = e.data;
      live.dataset.updated = Date.now();
    });
    es.addEventListener("logout", function () {
      es.close();
      location.reload();
    });
  }
  var p = document.querySelector("[data-print]");
  if (p) p.addEventListener("click", function () { window.print(); });
})();
