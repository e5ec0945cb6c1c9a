package registry

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/op"
)

// TestAgreementKeyNeverSigns registers a device with a P-256 agreement
// key (an ECDSA key could sign with it) and an X25519 one, and keeps them
// in the record and its DID document under keyAgreement; an operation
// signed with the P-256 agreement key under its id is refused as
// unknown-signer: an agreement key verifies no signature. An update by
// the device itself rotates its agreement keys.
func TestAgreementKeyNeverSigns(t *testing.T) {
	w := newWorld(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := ec.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	kaP, err := op.AgreementKeyFrom("ka-se", ecPub)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	kaX, _ := op.AgreementKeyFrom("ka1", x.PublicKey())
	s := w.key(cose.AlgEdDSA, "agreeing")
	tx, dev := w.register(op.KindDevice, w.p, s, func(r *op.Register) { r.Doc.KeyAgreement = []op.AgreementKey{kaX, kaP} })
	w.apply(tx, w.status(w.p, op.TypeValidate, dev.id, 1))

	e, err := getEntity(w.c.st.Latest(), dev.id.String())
	if err != nil || e == nil || len(e.Doc.KeyAgreement) != 2 {
		t.Fatalf("record %+v, %v", e, err)
	}
	doc, err := resolver.Document(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.KeyAgreement) != 4 || len(doc.Authentication) != 2 {
		t.Fatalf("keyAgreement %v, authentication %v", doc.KeyAgreement, doc.Authentication)
	}

	signer, err := cose.NewSigner(ec)
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(t, signer, dev.id.WithFragment("ka-se"), statusOp(op.TypeDeactivate, dev.id, 2))
	if r := w.c.checkTx(forged); op.ReasonFromCode(r.Code) != op.ReasonUnknownSigner {
		t.Fatalf("signed by an agreement key: %s (%s)", op.ReasonFromCode(r.Code), r.Log)
	}

	y, _ := ecdh.X25519().GenerateKey(rand.Reader)
	kaY, _ := op.AgreementKeyFrom("ka2", y.PublicKey())
	doc2 := docOf(dev)
	doc2.KeyAgreement = []op.AgreementKey{kaY}
	w.apply(w.update(dev.s, dev.kid(), dev, 2, doc2))
	e, err = getEntity(w.c.st.Latest(), dev.id.String())
	if err != nil || len(e.Doc.KeyAgreement) != 1 || e.Doc.KeyAgreement[0].ID != "ka2" {
		t.Fatalf("after rotation %+v, %v", e.Doc.KeyAgreement, err)
	}
}
