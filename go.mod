module github.com/ucwabot/ucwabot

go 1.26.8

require (
	github.com/sirupsen/logrus v1.10.2
	gopkg.in/yaml.v3 v3.0.1
)

require golang.org/x/sys v0.48.0 // indirect
