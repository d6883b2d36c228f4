package pipeline

import (
	"testing"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

type (
	plainStage  struct{}
	replyStage  struct{}
	earlyReply  struct{ n int }
	preflighter struct{}
)

func (plainStage) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}
func (replyStage) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}
func (replyStage) ResponseHeaders(*stage.Stream, *stage.Input) {}
func (*earlyReply) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}
func (*earlyReply) ResponseHeaders(*stage.Stream, *stage.Input) {}
func (*earlyReply) BeforeAuthentication(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}
func (preflighter) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}
func (preflighter) BeforeAuthentication(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}
func (preflighter) AnswersPreflights() bool { return true }

// TestStageTypesRemembersRolesByType: each dynamic type gets its own roles,
// the same on every meeting (values of one type included, pointers and
// not), and past the memo's size too.
func TestStageTypesRemembersRolesByType(t *testing.T) {
	var types stageTypes
	cases := []struct {
		st   stage.Stage
		want roles
	}{
		{plainStage{}, 0},
		{replyStage{}, responder},
		{&earlyReply{n: 1}, responder | earlyStage},
		{preflighter{}, earlyStage | preflightStage},
		{&earlyReply{n: 2}, responder | earlyStage},
	}
	for round := 0; round < 3; round++ {
		for _, tc := range cases {
			if got := types.of(tc.st); got != tc.want {
				t.Errorf("round %d: %T has roles %06b, want %06b", round, tc.st, got, tc.want)
			}
		}
	}
	if types.n != 4 {
		t.Errorf("%d types remembered, want 4", types.n)
	}
	full := stageTypes{n: len(types.known)}
	if got := full.of(replyStage{}); got != responder || full.n != len(full.known) {
		t.Errorf("with the memo full, replyStage has roles %06b and the memo %d types", got, full.n)
	}
}
