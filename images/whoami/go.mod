module cc-ci.local/whoami

go 1.22
