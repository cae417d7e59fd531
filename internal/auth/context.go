package auth

import "context"

// Actor is the authenticated caller of a request: the API key that signed
// in, its name and its role. It carries no secret.
type Actor struct {
	KeyID string
	Name  string
	Role  Role
}

type actorKey struct{}

// WithActor returns a copy of ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor WithActor stored, and false when the
// request was not authenticated (public endpoints, background work).
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
