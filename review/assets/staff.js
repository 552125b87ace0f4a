// The dossier page's viewer: a click on a page's thumbnail opens it large, with the previous
// and next pages, rotation, and the review decision at hand. Progressive enhancement: without
// this script each thumbnail is a link to the large picture, and the forms work as they are.
"use strict";

(function () {
  const links = Array.from(document.querySelectorAll("a.page-link"));
  let current = null; // { doc, page, pages, name }
  let turns = 0;

  const dialog = document.createElement("dialog");
  dialog.className = "viewer";
  dialog.setAttribute("aria-label", "Visionneuse");
  dialog.innerHTML =
    '<div class="bar">' +
    '<span class="title" aria-live="polite"></span>' +
    '<button type="button" data-act="prev" aria-label="Page précédente">← Précédente</button>' +
    '<button type="button" data-act="next" aria-label="Page suivante">Suivante →</button>' +
    '<button type="button" data-act="rotate" aria-label="Pivoter d\'un quart de tour">⟳ Pivoter</button>' +
    '<button type="button" data-act="accept" class="accept">Accepter (A)</button>' +
    '<button type="button" data-act="refuse" class="reject">Refuser… (X)</button>' +
    '<button type="button" data-act="close" aria-label="Fermer">✕ Fermer</button>' +
    "</div>" +
    '<div class="stage"><img alt=""></div>';
  const title = dialog.querySelector(".title");
  const stage = dialog.querySelector(".stage");
  const image = dialog.querySelector(".stage img");

  function pageUrl(doc, page, width) {
    return "/staff/documents/" + encodeURIComponent(doc) + "/pages/" + page + "?width=" + width;
  }

  function decisionForm(doc, decision) {
    const article = document.getElementById("doc-" + doc);
    if (!article) return null;
    const input = article.querySelector('form input[name="decision"][value="' + decision + '"]');
    return input ? input.form : null;
  }

  function show() {
    const c = current;
    image.src = pageUrl(c.doc, c.page, 1600);
    image.alt = "Page " + c.page + " de " + c.name;
    image.style.transform = "rotate(" + turns * 90 + "deg)";
    stage.classList.toggle("sideways", turns % 2 === 1);
    title.textContent = c.name + " — page " + c.page + " sur " + c.pages;
    dialog.querySelector('[data-act="prev"]').disabled = c.page <= 1;
    dialog.querySelector('[data-act="next"]').disabled = c.page >= c.pages;
    const reviewable = decisionForm(c.doc, "accept") !== null;
    dialog.querySelector('[data-act="accept"]').hidden = !reviewable;
    dialog.querySelector('[data-act="refuse"]').hidden = !reviewable;
  }

  function open(link) {
    current = {
      doc: link.dataset.doc,
      page: Number(link.dataset.page),
      pages: Number(link.dataset.pages),
      name: link.dataset.name,
    };
    turns = 0;
    show();
    if (!dialog.open) dialog.showModal();
  }

  function act(what) {
    if (!current) return;
    if (what === "prev" && current.page > 1) { current.page -= 1; show(); }
    else if (what === "next" && current.page < current.pages) { current.page += 1; show(); }
    else if (what === "rotate") { turns = (turns + 1) % 4; show(); }
    else if (what === "close") { dialog.close(); }
    else if (what === "accept") {
      const form = decisionForm(current.doc, "accept");
      if (form) form.requestSubmit();
    } else if (what === "refuse") {
      const form = decisionForm(current.doc, "reject");
      dialog.close();
      if (form) {
        form.scrollIntoView({ block: "center" });
        const reason = form.querySelector("select");
        if (reason) reason.focus();
      }
    }
  }

  if (links.length > 0) {
    document.body.appendChild(dialog);
    for (const link of links) {
      link.addEventListener("click", function (event) {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        open(link);
      });
    }
    dialog.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-act]");
      if (button) act(button.dataset.act);
    });
    dialog.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const keys = { ArrowLeft: "prev", ArrowRight: "next", r: "rotate", R: "rotate",
        a: "accept", A: "accept", x: "refuse", X: "refuse" };
      const what = keys[event.key];
      if (what) { event.preventDefault(); act(what); }
    });
  }

  // Pages still being rendered: look again in a few seconds, unless the reviewer is typing.
  if (document.querySelector('[data-previews="pending"]')) {
    const tries = Number(sessionStorage.getItem("guichet-preview-tries") || "0");
    if (tries < 30) {
      setTimeout(function () {
        const typing = document.activeElement && /^(TEXTAREA|SELECT|INPUT)$/.test(document.activeElement.tagName);
        if (!typing && !dialog.open) {
          sessionStorage.setItem("guichet-preview-tries", String(tries + 1));
          location.reload();
        }
      }, 3000);
    }
  } else {
    sessionStorage.removeItem("guichet-preview-tries");
  }
})();
