module tsweedvolume/bench

go 1.24.0

require github.com/klauspost/reedsolomon v1.14.2

require github.com/klauspost/cpuid/v2 v2.4.0 // indirect
