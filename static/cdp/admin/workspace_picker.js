// The workspace picker of the admin's custom pages: choosing a workspace reloads the page for
// it (kept out of an inline handler, which the Content-Security-Policy refuses).
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("select[data-cdp-autosubmit]")) {
    event.target.form.submit();
  }
});
