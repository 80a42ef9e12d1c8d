// Package browsertest clicks through gatehouse's setup pages in a real,
// headless Chromium driven by chromedp, against the project's fake GitHub,
// and saves screenshots of the setup and done pages (the README's come
// from here: go test ./app/setup/browsertest -update). It holds only tests;
// it is a package of its own so that chromedp stays out of every other
// package's build.
package browsertest
