import "./lib/locale";
import { mount } from "svelte";
import App from "./App.svelte";
import { tauriBackend } from "./lib/tauri";
import "./app.css";

const target = document.getElementById("app");

/** A start-up failure is shown, never a blank window. */
function fail(message: string) {
  if (!target) return;
  const p = document.createElement("pre");
  p.setAttribute("role", "alert");
  p.dataset.testid = "startup-error";
  p.textContent = `Leakguard's window could not start: ${message}\nProtection is not affected; restart the app or see its log.`;
  target.replaceChildren(p);
}

try {
  if (!target) throw new Error("no #app element");
  mount(App, { target, props: { backend: tauriBackend } });
} catch (e) {
  fail(e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e));
}
