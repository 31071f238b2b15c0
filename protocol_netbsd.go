package main

// socketProtocol cannot say the protocol on NetBSD, which has no
// SO_PROTOCOL: there tcpOnly takes an inet stream socket for TCP.
func socketProtocol(int) (proto int, known bool, err error) {
	return 0, false, nil
}
