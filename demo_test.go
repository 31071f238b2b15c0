package main

func demo() int { return 0 }
