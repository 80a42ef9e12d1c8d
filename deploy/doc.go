// Package deploy holds what operators run: the container image
// (Dockerfile), the Helm chart (helm/gatehouse) and the one-host compose
// file (compose.yaml). It has no code; its tests render the chart with
// Helm's Go SDK, decode every manifest strictly into the Kubernetes API
// types, check the Dockerfile and the compose file, and run gatehouse's own
// IaC check on this directory (dogfood).
package deploy
