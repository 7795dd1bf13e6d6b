package main

import (
	"context"
	"sync"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/models"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
)

// pipeline is the consuming half of Harrier (normalize, score, alert) in
// one process, as 'run' and 'demo' use it.
type pipeline struct {
	store      *storage.Store
	producer   *kafka.Producer
	normalizer *normalize.Normalizer
	scorer     *models.Scorer
	alerter    *alerting.Alerter

	wg     sync.WaitGroup
	cancel context.CancelFunc
	errs   chan error

	// minerWG and stopMiners end the template miners after the roles, so
	// that their final save reaches the store before it closes.
	minerWG    sync.WaitGroup
	stopMiners context.CancelFunc
}

func newPipeline(ctx context.Context, cfg *config.Config, store *storage.Store, env *cmdEnv) (*pipeline, error) {
	p := &pipeline{store: store, producer: kafka.NewProducer(cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix), errs: make(chan error, 3)}
	minerCtx, stopMiners := context.WithCancel(ctx)
	p.stopMiners = stopMiners
	normalizerMiner, err := newMiner(minerCtx, cfg, store, env, &p.minerWG)
	if err != nil {
		stopMiners()
		return nil, err
	}
	scorerMiner, err := newMiner(minerCtx, cfg, store, env, &p.minerWG)
	if err != nil {
		stopMiners()
		p.minerWG.Wait()
		return nil, err
	}
	p.normalizer = newNormalizer(cfg, store, p.producer, normalizerMiner, env)
	p.scorer, err = newScorer(cfg, store, p.producer, scorerMiner, env)
	if err != nil {
		p.producer.Close()
		return nil, err
	}
	a, err := newAlerter(cfg, store, env)
	if err != nil {
		p.producer.Close()
		return nil, err
	}
	p.alerter = a
	return p, nil
}

// start runs the three roles until stop is called or ctx is done.
func (p *pipeline) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	for _, run := range []func(context.Context) error{p.normalizer.Run, p.scorer.Run, p.alerter.Run} {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := run(ctx); err != nil {
				p.errs <- err
			}
		}()
	}
}

// stop ends the roles, waits for them and closes the producer.
func (p *pipeline) stop() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	p.stopMiners()
	p.minerWG.Wait()
	p.producer.Close()
	select {
	case err := <-p.errs:
		return err
	default:
		return nil
	}
}
