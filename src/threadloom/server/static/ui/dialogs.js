// The page's dialogs: the API key prompt, the settings and the image viewer. Each is a
// native <dialog> from index.html (focus trapping, Escape and the backdrop come with it).

const $ = (id) => document.getElementById(id);

function maskedKey(key) {
  return key.length > 12 ? `${key.slice(0, 7)}…${key.slice(-4)}` : "•".repeat(8);
}

/**
 * Asks for an API key. `rejected` says that the key sent was refused. Resolves to the key,
 * or null when the person cancels.
 */
export function askForKey({ rejected = false } = {}) {
  const dialog = $("key-dialog");
  const form = $("key-form");
  const input = $("key-input");
  $("key-error").hidden = !rejected;
  input.value = "";
  input.setAttribute("aria-invalid", rejected ? "true" : "false");
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      $("key-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (key) finish(key);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    form.addEventListener("submit", onSubmit);
    $("key-cancel").addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

/** The settings: the space to work in and the saved API key. */
export function openSettings({ api, version, onSaved }) {
  const dialog = $("settings-dialog");
  const form = $("settings-form");
  const spaceInput = $("space-input");
  const keyInput = $("settings-key");
  const forget = $("forget-key");
  let forgetKey = false;
  const showKey = () => {
    const key = forgetKey ? null : api.key;
    $("key-status").textContent = key
      ? `A key is saved in this browser (${maskedKey(key)}).`
      : "No key is saved in this browser.";
    forget.hidden = !key;
  };
  spaceInput.value = api.space;
  spaceInput.readOnly = api.spaceIsBound;
  $("space-hint").hidden = api.spaceIsBound;
  $("space-bound").hidden = !api.spaceIsBound;
  keyInput.value = "";
  $("about").textContent = version ? `threadloom ${version}` : "";
  showKey();
  const onForget = () => {
    forgetKey = true;
    showKey();
    keyInput.focus();
  };
  const onSubmit = (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const spaceChanged = spaceInput.value.trim() !== api.space;
    const keyChanged = forgetKey || Boolean(keyInput.value.trim());
    if (spaceChanged) api.space = spaceInput.value.trim();
    if (forgetKey) api.key = null;
    if (keyInput.value.trim()) api.key = keyInput.value.trim();
    close();
    if (spaceChanged || keyChanged) onSaved({ keyChanged });
  };
  const close = () => {
    form.removeEventListener("submit", onSubmit);
    forget.removeEventListener("click", onForget);
    $("settings-cancel").removeEventListener("click", close);
    dialog.removeEventListener("close", close);
    if (dialog.open) dialog.close();
  };
  form.addEventListener("submit", onSubmit);
  forget.addEventListener("click", onForget);
  $("settings-cancel").addEventListener("click", close);
  dialog.addEventListener("close", close);
  dialog.showModal();
}

/** Shows an image of a message large, over the page. */
export function viewImage(src, alt) {
  const dialog = $("image-dialog");
  const img = $("image-full");
  img.src = src;
  img.alt = alt;
  dialog.showModal();
}

export function setUpImageViewer() {
  const dialog = $("image-dialog");
  dialog.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => $("image-full").removeAttribute("src"));
}
