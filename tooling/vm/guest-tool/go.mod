module passt-ts/guest-tool

go 1.21
