import { mount } from "svelte";
import App from "./App.svelte";
import { tauriBackend } from "./lib/tauri";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("no #app element");
mount(App, { target, props: { backend: tauriBackend } });
