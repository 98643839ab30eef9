package source

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// errNotFast sends a query the fast path cannot decode to the API client.
var errNotFast = errors.New("not a plain vector result")

// vectorQuery runs an instant query whose result is split by label (fleet
// mode: one sample per server, a thousand or more) and decodes it with a
// streaming decoder that keeps, of each sample's labels, only label: the
// API client's generic decoding costs about 20 µs per sample, too much
// for a fleet's every metric every cycle. Anything but a successful
// vector of plain samples (an error, a scalar, a native histogram) is
// errNotFast: the caller then asks the API client, which reports errors
// in full.
func vectorQuery(ctx context.Context, c api.Client, query, label string, now time.Time, timeout time.Duration) (model.Value, v1.Warnings, v1.Infos, error) {
	form := url.Values{
		"query": {query},
		"time":  {strconv.FormatFloat(float64(now.UnixNano())/1e9, 'f', 3, 64)},
	}
	if timeout > 0 {
		form.Set("timeout", model.Duration(timeout).String())
	}
	u := c.URL("/api/v1/query", nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err := c.Do(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, nil, errNotFast
	}
	vec, warnings, infos, err := decodeVector(body, model.LabelName(label))
	if err != nil {
		return nil, nil, nil, err
	}
	return vec, warnings, infos, nil
}

// decodeVector decodes an instant query's response holding a vector.
func decodeVector(body []byte, label model.LabelName) (vec model.Vector, warnings v1.Warnings, infos v1.Infos, err error) {
	it := jsoniter.ConfigFastest.BorrowIterator(body)
	defer jsoniter.ConfigFastest.ReturnIterator(it)
	status, resultType := "", ""
	fail := func() bool { err = errNotFast; return false }
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch field {
		case "status":
			status = it.ReadString()
		case "warnings":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool { warnings = append(warnings, it.ReadString()); return true })
		case "infos":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool { infos = append(infos, it.ReadString()); return true })
		case "data":
			return it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
				switch field {
				case "resultType":
					if resultType = it.ReadString(); resultType != "vector" {
						return fail()
					}
				case "result":
					vec = make(model.Vector, 0, 64)
					return it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
						s, ok := decodeSample(it, label)
						if !ok {
							return fail()
						}
						vec = append(vec, s)
						return true
					})
				default:
					it.Skip()
				}
				return true
			})
		default:
			it.Skip()
		}
		return true
	})
	if err != nil || it.Error != nil || status != "success" || resultType != "vector" {
		return nil, nil, nil, errNotFast
	}
	if vec == nil {
		vec = model.Vector{}
	}
	return vec, warnings, infos, nil
}

// decodeSample decodes {"metric": {...}, "value": [ts, "v"]}, keeping only
// label of the metric's labels; ok is false for anything else (a native
// histogram).
func decodeSample(it *jsoniter.Iterator, label model.LabelName) (*model.Sample, bool) {
	s := &model.Sample{}
	ok, hasValue := true, false
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch field {
		case "metric":
			it.ReadObjectCB(func(it *jsoniter.Iterator, name string) bool {
				if model.LabelName(name) == label {
					s.Metric = model.Metric{label: model.LabelValue(it.ReadString())}
				} else {
					it.Skip()
				}
				return true
			})
		case "value":
			i := 0
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				switch i {
				case 0:
					s.Timestamp = model.TimeFromUnixNano(int64(it.ReadFloat64() * 1e9))
				case 1:
					v, err := parseSampleValue(it.ReadString())
					if err != nil {
						ok = false
						return false
					}
					s.Value = model.SampleValue(v)
				default:
					it.Skip()
				}
				i++
				return true
			})
			hasValue = i == 2
		default:
			ok = false // a histogram, or a shape this does not know
			return false
		}
		return true
	})
	if s.Metric == nil {
		s.Metric = model.Metric{}
	}
	return s, ok && hasValue && it.Error == nil
}

// parseSampleValue parses a sample value as Prometheus writes it.
func parseSampleValue(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}
