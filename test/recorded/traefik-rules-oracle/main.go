// Asks Traefik's own rule parser and muxer, and Go's regexp package, about the cases of
// test/traefik-rule-cases.ts: reads them as JSON on stdin, writes the answers as JSON on stdout.
// Run by test/recorded/traefik-rules.ts, which builds it against the Traefik module version it names.
package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"

	"github.com/traefik/traefik/v3/pkg/middlewares/requestdecorator"
	muxhttp "github.com/traefik/traefik/v3/pkg/muxer/http"
)

type ruleCase struct {
	Rule   string `json:"rule"`
	Syntax string `json:"syntax"`
}

type regexpCase struct {
	Pattern  string   `json:"pattern"`
	Subjects []string `json:"subjects"`
}

type input struct {
	Rules    []ruleCase   `json:"rules"`
	Hosts    []string     `json:"hosts"`
	Regexps  []regexpCase `json:"regexps"`
	Requests struct {
		Paths       []string `json:"paths"`
		Methods     []string `json:"methods"`
		Headers     []string `json:"headers"` // "Name: value", or "" for none
		Queries     []string `json:"queries"`
		RemoteAddrs []string `json:"remoteAddrs"`
	} `json:"requests"`
}

type ruleAnswer struct {
	Rule     string          `json:"rule"`
	Syntax   string          `json:"syntax"`
	Accepted bool            `json:"accepted"`
	Error    string          `json:"error,omitempty"`
	Matches  map[string]bool `json:"matches,omitempty"` // host -> some request of the grid matched
}

type regexpAnswer struct {
	Pattern  string          `json:"pattern"`
	Compiles bool            `json:"compiles"`
	Error    string          `json:"error,omitempty"`
	Matches  map[string]bool `json:"matches,omitempty"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	out := struct {
		Rules   []ruleAnswer   `json:"rules"`
		Regexps []regexpAnswer `json:"regexps"`
	}{}

	for _, c := range in.Rules {
		out.Rules = append(out.Rules, askTraefik(c, in))
	}
	for _, c := range in.Regexps {
		answer := regexpAnswer{Pattern: c.Pattern}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			answer.Error = err.Error()
		} else {
			answer.Compiles = true
			answer.Matches = map[string]bool{}
			for _, s := range c.Subjects {
				answer.Matches[s] = re.MatchString(s)
			}
		}
		out.Regexps = append(out.Regexps, answer)
	}

	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", " ")
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(out); err != nil {
		panic(err)
	}
}

func askTraefik(c ruleCase, in input) ruleAnswer {
	answer := ruleAnswer{Rule: c.Rule, Syntax: c.Syntax}
	parser, err := muxhttp.NewSyntaxParser()
	if err != nil {
		panic(err)
	}
	muxer := muxhttp.NewMuxer(parser)
	matched := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusTeapot) })
	if err := muxer.AddRoute(c.Rule, c.Syntax, 0, matched); err != nil {
		answer.Error = err.Error()
		return answer
	}
	answer.Accepted = true
	answer.Matches = map[string]bool{}
	// The request decorator is what sets the canonical host the Host matchers read.
	decorator := requestdecorator.New(nil)
	for _, host := range in.Hosts {
		answer.Matches[host] = false
	grid:
		for _, path := range in.Requests.Paths {
			for _, method := range in.Requests.Methods {
				for _, header := range in.Requests.Headers {
					for _, query := range in.Requests.Queries {
						for _, remote := range in.Requests.RemoteAddrs {
							req := httptest.NewRequest(method, "http://"+host+path+query, nil)
							req.RemoteAddr = remote
							if header != "" {
								for i := 0; i < len(header); i++ {
									if header[i] == ':' {
										req.Header.Set(header[:i], header[i+2:])
										break
									}
								}
							}
							rec := httptest.NewRecorder()
							decorator.ServeHTTP(rec, req, muxer.ServeHTTP)
							if rec.Code == http.StatusTeapot {
								answer.Matches[host] = true
								break grid
							}
						}
					}
				}
			}
		}
	}
	return answer
}
