import { defineConfig } from "vite";

// Built straight into the Python package, which serves it at / (src/datacoop/api/web.py).
export default defineConfig({
  base: "/",
  build: {
    outDir: "../src/datacoop/web_dist", // relative to this folder
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8000" } },
});
