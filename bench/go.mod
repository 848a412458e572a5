module chainroute.bench

go 1.22
