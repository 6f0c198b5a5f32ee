module passt-ts/tooling/podman/probe

go 1.21
